//! Deterministic synthetic hiring data in the exact CSV format of the importer.
//!
//! Used for demos, tests and benchmarks. The same seed and settings always give
//! byte-identical files. A fraction of hire records can be made invalid; they
//! cycle through every rejection reason, and the jobs file then also carries a
//! job whose name is already taken (`DUPLICATE_NAME`).

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context;

use crate::csv::csv_field;

/// The twelve departments of the real samples.
pub const DEPARTMENTS: [&str; 12] = [
    "Product Management",
    "Sales",
    "Research and Development",
    "Business Development",
    "Engineering",
    "Human Resources",
    "Services",
    "Support",
    "Marketing",
    "Training",
    "Legal",
    "Accounting",
];

/// Relative hiring volume per department (same order as [`DEPARTMENTS`]).
const DEPARTMENT_WEIGHTS: [u32; 12] = [6, 12, 9, 8, 14, 5, 10, 12, 7, 4, 3, 4];

/// Relative hiring volume per month: busy in January, March and September.
const MONTH_WEIGHTS: [u32; 12] = [14, 8, 11, 8, 7, 6, 6, 7, 12, 9, 7, 5];

/// How many jobs the generator writes.
pub const JOB_COUNT: usize = 183;

const JOB_ROLES: [&str; 46] = [
    "Account Executive",
    "Account Representative",
    "Accountant",
    "Actuary",
    "Administrative Assistant",
    "Analyst Programmer",
    "Assistant Manager",
    "Biostatistician",
    "Budget/Accounting Analyst",
    "Business Systems Development Analyst",
    "Civil Engineer",
    "Clinical Specialist",
    "Compensation Analyst",
    "Cost Accountant",
    "Data Coordinator",
    "Database Administrator",
    "Design Engineer",
    "Developer",
    "Director of Sales",
    "Editor",
    "Engineer",
    "Environmental Specialist",
    "Financial Advisor",
    "Financial Analyst",
    "GIS Technical Architect",
    "General Manager",
    "Geologist",
    "Graphic Designer",
    "Human Resources Assistant",
    "Human Resources Manager",
    "Information Systems Manager",
    "Internal Auditor",
    "Legal Assistant",
    "Marketing Assistant",
    "Marketing Manager",
    "Nurse Practicioner",
    "Office Assistant",
    "Operator",
    "Paralegal",
    "Product Engineer",
    "Programmer Analyst",
    "Project Manager",
    "Quality Engineer",
    "Research Associate",
    "Safety Technician",
    "Director, Operations",
];

const LEVELS: [&str; 4] = ["I", "II", "III", "IV"];

const FIRST_NAMES: [&str; 32] = [
    "Harold", "Ty", "Lyman", "Lotti", "Gretna", "Marlo", "Ada", "Bruno", "Celia", "Dmitri",
    "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lucia", "Mateo", "Nadia",
    "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tamar", "Umar", "Vera", "Wen", "Xavier", "Yara",
    "Zoë",
];

const LAST_NAMES: [&str; 32] = [
    "Vogt",
    "Hofer",
    "Hadye",
    "Crowthe",
    "Lording",
    "O'Neill",
    "Lovelace",
    "Silva",
    "Moreau",
    "Petrov",
    "García",
    "Haddad",
    "Berg",
    "Tanaka",
    "Costa",
    "Lind",
    "Yilmaz",
    "Rossi",
    "Fernández",
    "Kowalski",
    "Nilsson",
    "Sharma",
    "Dupont",
    "Marín",
    "Holm",
    "Levi",
    "Khan",
    "Novak",
    "Zhang",
    "Dubois",
    "Haddad-Smith",
    "Smith, Jr.",
];

/// Settings of one generated dataset.
#[derive(Debug, Clone)]
pub struct GeneratorSettings {
    /// Number of hire records.
    pub hires: u64,
    /// The seed.
    pub seed: u64,
    /// Fraction of hire records made invalid.
    pub bad_fraction: f64,
    /// First year of hire dates.
    pub from_year: i32,
    /// Last year of hire dates.
    pub to_year: i32,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCounts {
    /// Department records written.
    pub departments: u64,
    /// Job records written (including a duplicate-name one when bad rows are asked for).
    pub jobs: u64,
    /// Hire records written.
    pub hires: u64,
    /// Hire records made invalid.
    pub bad_hires: u64,
}

/// SplitMix64: small, fast and stable across versions, so datasets stay reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut pick = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            let weight = u64::from(*weight);
            if pick < weight {
                return index;
            }
            pick -= weight;
        }
        weights.len() - 1
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// The 183 unique job titles, in id order.
pub fn job_titles() -> Vec<String> {
    let mut titles: Vec<String> = JOB_ROLES.iter().map(|r| (*r).to_owned()).collect();
    'levels: for level in LEVELS {
        for role in JOB_ROLES {
            if titles.len() == JOB_COUNT {
                break 'levels;
            }
            titles.push(format!("{role} {level}"));
        }
    }
    titles
}

fn write_field(out: &mut impl Write, value: &str) -> std::io::Result<()> {
    out.write_all(csv_field(value).as_bytes())
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The kinds of invalid hire record, cycled through in order.
const BAD_KINDS: usize = 9;

/// Writes the three CSV files into `dir`.
pub fn generate(dir: &Path, settings: &GeneratorSettings) -> anyhow::Result<GeneratedCounts> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&settings.bad_fraction),
        "--bad-fraction must be between 0 and 1"
    );
    anyhow::ensure!(
        settings.from_year <= settings.to_year && settings.from_year >= 1,
        "--from-year must not be after --to-year"
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_departments(create(dir, "departments.csv")?)?;
    let jobs = write_jobs(create(dir, "jobs.csv")?, settings.bad_fraction > 0.0)?;
    let bad_hires = write_hires(create(dir, "hired_employees.csv")?, settings)?;
    Ok(GeneratedCounts {
        departments: DEPARTMENTS.len() as u64,
        jobs,
        hires: settings.hires,
        bad_hires,
    })
}

/// A buffered new file `name` in `dir`.
fn create(dir: &Path, name: &str) -> anyhow::Result<BufWriter<File>> {
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn write_departments(mut out: BufWriter<File>) -> anyhow::Result<()> {
    for (index, name) in DEPARTMENTS.iter().enumerate() {
        write!(out, "{},", index + 1)?;
        write_field(&mut out, name)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes the job titles, plus one bad record when `with_bad` (a new id with a
/// taken name); returns the records written.
fn write_jobs(mut out: BufWriter<File>, with_bad: bool) -> anyhow::Result<u64> {
    let titles = job_titles();
    for (index, title) in titles.iter().enumerate() {
        write!(out, "{},", index + 1)?;
        write_field(&mut out, title)?;
        out.write_all(b"\n")?;
    }
    let mut records = titles.len() as u64;
    if with_bad {
        write!(out, "{},", titles.len() + 1)?;
        write_field(&mut out, &titles[0])?;
        out.write_all(b"\n")?;
        records += 1;
    }
    out.flush()?;
    Ok(records)
}

/// One generated hire's values.
struct GeneratedHire {
    datetime: String,
    first: &'static str,
    name: String,
    department: usize,
    job: u64,
}

impl GeneratedHire {
    /// Draws a hire; the order of draws is part of what a seed reproduces.
    fn draw(rng: &mut SplitMix64, settings: &GeneratorSettings) -> Self {
        let years = (settings.to_year - settings.from_year + 1) as u64;
        let year = settings.from_year + rng.below(years) as i32;
        let month = rng.weighted(&MONTH_WEIGHTS) as u32 + 1;
        let day = rng.below(u64::from(days_in_month(year, month))) as u32 + 1;
        let seconds = rng.below(86_400);
        let datetime = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
        Self {
            datetime,
            first,
            name: format!("{first} {last}"),
            department: rng.weighted(&DEPARTMENT_WEIGHTS) + 1,
            job: rng.below(JOB_COUNT as u64) + 1,
        }
    }
}

/// Writes the hires, a fraction of them invalid; returns how many are invalid.
fn write_hires(mut out: BufWriter<File>, settings: &GeneratorSettings) -> anyhow::Result<u64> {
    let mut rng = SplitMix64(settings.seed);
    let mut bad_hires = 0u64;
    let mut last_good_id = None;
    for id in 1..=settings.hires {
        let hire = GeneratedHire::draw(&mut rng, settings);
        if settings.bad_fraction > 0.0 && rng.chance(settings.bad_fraction) {
            let kind = (bad_hires % BAD_KINDS as u64) as usize;
            bad_hires += 1;
            write_bad_hire(&mut out, kind, id, &hire, last_good_id)?;
            continue;
        }
        write!(out, "{id},")?;
        write_field(&mut out, &hire.name)?;
        writeln!(out, ",{},{},{}", hire.datetime, hire.department, hire.job)?;
        last_good_id = Some(id);
    }
    out.flush()?;
    Ok(bad_hires)
}

/// Writes hire `id` broken in the way `kind` names.
fn write_bad_hire(
    out: &mut impl Write,
    kind: usize,
    id: u64,
    hire: &GeneratedHire,
    last_good_id: Option<u64>,
) -> std::io::Result<()> {
    let GeneratedHire {
        datetime,
        first,
        department,
        job,
        ..
    } = hire;
    match kind {
        // WRONG_FIELD_COUNT
        0 => writeln!(out, "{id},{first},{datetime},{department}"),
        // MISSING_FIELD
        1 => writeln!(out, "{id},,{datetime},{department},{job}"),
        // INVALID_ID
        2 => writeln!(out, "-{id},{first},{datetime},{department},{job}"),
        // NAME_TOO_LONG
        3 => writeln!(
            out,
            "{id},{},{datetime},{department},{job}",
            "x".repeat(300)
        ),
        // INVALID_DATETIME: no offset
        4 => writeln!(out, "{id},{first},{},{department},{job}", &datetime[..19]),
        // UNKNOWN_DEPARTMENT
        5 => writeln!(
            out,
            "{id},{first},{datetime},{},{job}",
            DEPARTMENTS.len() + 900
        ),
        // UNKNOWN_JOB
        6 => writeln!(
            out,
            "{id},{first},{datetime},{department},{}",
            JOB_COUNT + 9000
        ),
        // DUPLICATE_ID: an earlier id, different content
        7 => match last_good_id {
            Some(earlier) => writeln!(
                out,
                "{earlier},Duplicate {first},{datetime},{department},{job}"
            ),
            None => writeln!(out, "{id},{first},{datetime},{department}"),
        },
        // INVALID_ENCODING
        _ => {
            write!(out, "{id},")?;
            out.write_all(b"Bad\xff\xfeName")?;
            writeln!(out, ",{datetime},{department},{job}")
        }
    }
}
