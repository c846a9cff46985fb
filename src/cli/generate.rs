//! `hiring-analytics generate`: write a synthetic dataset.

use super::Failure;
use crate::{
    config::GenerateArgs,
    generator::{self, GeneratorSettings},
};

/// Writes the three CSV files and says what was written.
pub fn run(args: GenerateArgs) -> Result<(), Failure> {
    let settings = GeneratorSettings {
        hires: args.hires,
        seed: args.seed,
        bad_fraction: args.bad_fraction,
        from_year: args.from_year,
        to_year: args.to_year,
    };
    let counts = generator::generate(&args.out, &settings)?;
    println!(
        "wrote {} departments, {} jobs and {} hires ({} invalid) to {}",
        counts.departments,
        counts.jobs,
        counts.hires,
        counts.bad_hires,
        args.out.display()
    );
    Ok(())
}
