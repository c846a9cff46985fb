//! `hiring-analytics schema`: print the SDL.

use super::Failure;

/// Prints the GraphQL SDL to standard output.
pub fn run() -> Result<(), Failure> {
    print!("{}", crate::graphql::schema::sdl());
    Ok(())
}
