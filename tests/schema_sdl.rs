//! `schema.graphql` must be exactly what the server serves.

use std::process::Command;

const REGENERATE: &str = "cargo run -q -- schema > schema.graphql";

#[test]
fn the_checked_in_sdl_matches_the_schema() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .unwrap_or_else(|_| {
                panic!("schema.graphql is missing; regenerate it with `{REGENERATE}`")
            });
    let current = hiring_analytics::graphql::schema::sdl();
    assert!(
        checked_in == current,
        "schema.graphql differs from the schema; regenerate it with `{REGENERATE}` and review the diff"
    );
}

#[test]
fn the_schema_subcommand_prints_the_sdl() {
    let output = Command::new(env!("CARGO_BIN_EXE_hiring-analytics"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        hiring_analytics::graphql::schema::sdl()
    );
}
