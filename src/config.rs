//! Command-line flags, each with an environment fallback.

use std::{convert::Infallible, net::SocketAddr, path::PathBuf, str::FromStr};

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

/// The default database: an SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hiring.db?mode=rwc";

/// hiring-analytics: a GraphQL analytics server for hiring data.
#[derive(Debug, Parser)]
#[command(
    name = "hiring-analytics",
    version,
    about = "GraphQL analytics server for hiring data: departments, jobs and hires",
    long_about = "GraphQL analytics server for hiring data.\n\n\
        Load historic hires, add new ones through GraphQL, and read hiring metrics.\n\
        Every flag can also be set through the environment variable shown next to it.",
    after_help = "Run `hiring-analytics serve` and open http://127.0.0.1:8000/graphql for the playground.\n\n\
        Exit codes: 0 success; 1 failure (such as an unreachable database or backup storage); \
        2 usage or configuration error; 3 input file or backup set missing; 4 another backup or \
        restore is running (BUSY); 5 a backup set fails its checks; 6 a restore refused because \
        it would break references; 130 interrupted."
)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database to use: `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true,
        global = true
    )]
    pub database_url: SecretString,

    /// Log output: `pretty` for people, `json` for log collectors such as CloudWatch.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `hiring_analytics=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log_filter: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The subcommands. `import`, `backup`, `verify` and `restore` are recorded in the
/// operations log (`operations` in GraphQL) as started by `cli:$USER`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (GraphQL, playground, health checks); migrates the database first.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to standard output.
    Schema,
    /// Load headerless CSV files (departments, jobs, hires); each file is loaded in one transaction
    /// and recorded as an operation.
    Import(ImportArgs),
    /// Write a deterministic synthetic dataset as the three CSV files.
    Generate(GenerateArgs),
    /// Back up tables into a new backup set (one Avro file per table and a manifest); recorded as
    /// an operation.
    Backup(BackupArgs),
    /// List the complete backup sets, newest first.
    Backups(BackupsArgs),
    /// Re-read every object of a backup set and check its size, SHA-256, schema and rows; recorded
    /// as an operation when DATABASE_URL names a migrated database.
    Verify(VerifyArgs),
    /// Replace tables with a backup set's contents, in one transaction (checked first); recorded as
    /// an operation.
    Restore(RestoreArgs),
    /// Ask a running server's /healthz; exit 0 when it answers 200 (for container health checks).
    Healthcheck(HealthcheckArgs),
}

/// Which server to ask.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address (0.0.0.0 is asked on 127.0.0.1).
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout_seconds: u64,
}

/// Where backup sets are kept.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Where backup sets go: a folder, `file:///PATH`, or `s3://BUCKET/PREFIX`.
    #[arg(long, env = "BACKUP_URL", default_value = "./backups")]
    pub backup_url: String,

    /// Keep only the newest N complete backup sets; older ones are deleted after a backup
    /// succeeds.
    #[arg(long, env = "BACKUP_KEEP", value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: Option<u32>,

    /// An S3-compatible endpoint such as `http://minio:9000` (MinIO, Ceph, R2); credentials
    /// come from the standard AWS settings (AWS_ACCESS_KEY_ID, profile, instance role).
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The S3 region, set explicitly; otherwise AWS_REGION or the AWS profile decides.
    #[arg(long, env = "S3_REGION")]
    pub s3_region: Option<String>,

    /// Path-style S3 addressing (`endpoint/bucket/key`); on by default with --s3-endpoint.
    #[arg(long, env = "S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: Option<bool>,
}

impl StorageArgs {
    /// The S3 settings these flags give.
    pub fn s3_settings(&self) -> crate::service::backup::S3Settings {
        crate::service::backup::S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            force_path_style: self.s3_force_path_style,
            credentials: None,
        }
    }
}

/// What to back up.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where backup sets are kept.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Tables to back up, comma-separated; every table when left out.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub tables: Option<Vec<crate::rules::Table>>,
    /// Print the manifest as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Where to list backups.
#[derive(Debug, Args)]
pub struct BackupsArgs {
    /// Where backup sets are kept.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Print the manifests as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which backup to verify.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where backup sets are kept.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The backup set's id, e.g. 20261127T081500Z-3f9a.
    pub id: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// What to restore.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Where backup sets are kept.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The backup set's id, e.g. 20261127T081500Z-3f9a.
    pub id: String,
    /// Tables to restore, comma-separated; every table of the set when left out.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub tables: Option<Vec<crate::rules::Table>>,
    /// Check and load everything, then roll back instead of committing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Which files to import.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).multiple(true))]
pub struct ImportArgs {
    /// Folder holding departments.csv, jobs.csv and hired_employees.csv (all three must exist).
    #[arg(long, group = "input", conflicts_with_all = ["departments", "jobs", "hired_employees"])]
    pub dir: Option<PathBuf>,
    /// The departments file (`id,department`).
    #[arg(long, group = "input")]
    pub departments: Option<PathBuf>,
    /// The jobs file (`id,job`).
    #[arg(long, group = "input")]
    pub jobs: Option<PathBuf>,
    /// The hires file (`id,name,datetime,department_id,job_id`).
    #[arg(long, group = "input")]
    pub hired_employees: Option<PathBuf>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Progress display: a bar on a terminal, log lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar when standard error is a terminal, log lines otherwise.
    Auto,
    /// Always a bar.
    Bar,
    /// Always log lines.
    Log,
}

/// What to generate.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of hire records to write.
    #[arg(long)]
    pub hires: u64,
    /// Seed: the same seed and settings always give the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder to write departments.csv, jobs.csv and hired_employees.csv into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Fraction of hire records (0 to 1) made invalid, cycling through every rejection reason.
    #[arg(long, default_value_t = 0.0)]
    pub bad_fraction: f64,
    /// First year of hire dates.
    #[arg(long, default_value_t = 2019)]
    pub from_year: i32,
    /// Last year of hire dates.
    #[arg(long, default_value_t = 2023)]
    pub to_year: i32,
}

/// Settings of the HTTP server.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs a way to authenticate (a token,
    /// TOKENS_FILE or JWT), or --insecure.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,

    /// Static bearer token with the admin role (identity `token:admin`).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Token>,

    /// Static bearer token with the editor role (identity `token:api`).
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Token>,

    /// Static bearer token with the analyst role (identity `token:read`).
    #[arg(long, env = "READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<Token>,

    /// File of more static tokens, one per line: `name role sha256-of-the-token` (identity
    /// `token:<name>`; `#` starts a comment). Make the digest with `printf %s "$TOKEN" | sha256sum`.
    #[arg(long, env = "TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Role of requests without a token. Default: editor on a loopback address with no token
    /// or JWT configured, analyst on a loopback address with some, none on any other address.
    #[arg(long, env = "ANONYMOUS_ROLE", value_enum)]
    pub anonymous_role: Option<AnonymousRole>,

    /// Who may introspect the schema: everyone it lets in, or admins only.
    #[arg(long, env = "INTROSPECTION", value_enum, default_value = "all")]
    pub introspection: Introspection,

    /// JWT bearer tokens from an OIDC identity provider.
    #[command(flatten)]
    pub jwt: JwtArgs,

    /// Allow listening on a non-loopback address with no way to authenticate: anonymous
    /// callers get ANONYMOUS_ROLE (viewer when unset) and nobody more.
    #[arg(long, env = "INSECURE")]
    pub insecure: bool,

    /// Largest accepted request body, in bytes; larger requests get 413.
    #[arg(long, env = "BODY_LIMIT", default_value_t = 8 * 1024 * 1024)]
    pub body_limit: usize,

    /// Deepest GraphQL selection accepted.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = crate::graphql::query_limits::DEFAULT_MAX_DEPTH)]
    pub max_query_depth: usize,

    /// Highest GraphQL query complexity accepted (one point per selected field).
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = crate::graphql::query_limits::DEFAULT_MAX_COMPLEXITY)]
    pub max_query_complexity: usize,

    /// Seconds that in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,

    /// Load the GraphiQL playground from a CDN instead of the assets built into the binary.
    #[arg(long, env = "GRAPHIQL_CDN")]
    pub graphiql_cdn: bool,

    /// On an empty database, generate and import a small demo dataset first.
    #[arg(long, env = "DEMO")]
    pub demo: bool,

    /// Largest accepted multipart upload (`importCsv`), in bytes.
    #[arg(long, env = "UPLOAD_LIMIT", default_value_t = 1024 * 1024 * 1024)]
    pub upload_limit: usize,

    /// Most database connections in the pool for writes and admin operations.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: u32,

    /// Seconds a request may take before it is stopped with 503 (0: no limit). Backups and
    /// restores started by a request keep running.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = crate::state::DEFAULT_REQUEST_TIMEOUT_SECONDS)]
    pub request_timeout_seconds: u64,

    /// Requests per second allowed per client IP address (health checks and metrics are
    /// exempt); more get 429. Off when unset.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND")]
    pub rate_limit_per_second: Option<u32>,

    /// Requests a client may send at once above its rate (default: the rate).
    #[arg(long, env = "RATE_LIMIT_BURST", requires = "rate_limit_per_second")]
    pub rate_limit_burst: Option<u32>,

    /// A read replica for reports, charts and lists (`postgres://…`); writes and admin
    /// operations stay on DATABASE_URL. Reads there may lag the latest writes.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<SecretString>,

    /// Most connections in the pool for reports, charts and lists: on the replica when
    /// DATABASE_READ_URL is set, otherwise a second pool on DATABASE_URL, so that reads never
    /// wait for a connection held by a write.
    #[arg(long, env = "DATABASE_READ_POOL_SIZE", default_value_t = 16)]
    pub database_read_pool_size: u32,

    /// Milliseconds between folds of the report rollup's pending deltas into its compacted
    /// cells (one instance at a time does it).
    #[arg(long, env = "ROLLUP_COMPACT_INTERVAL_MS",
          default_value_t = crate::service::compactor::DEFAULT_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rollup_compact_interval_ms: u64,

    /// Origins that browser apps may call the API from, exactly as browsers send them
    /// (`https://app.example.com,http://localhost:5173`). Unset: no CORS headers, so
    /// browsers keep pages of other origins out.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: crate::http::cors::CorsOrigins,

    /// Seconds a client may reuse a query answer without asking again (`Cache-Control:
    /// private, max-age`); 0: it revalidates every time with its ETag (`private, no-cache`).
    #[arg(long, env = "CACHE_MAX_AGE", default_value_t = 0)]
    pub cache_max_age: u32,

    /// Persisted queries: `auto` (Apollo's automatic persisted queries, any document runs),
    /// `only` (trusted documents: only those of PERSISTED_QUERIES_DIR run) or `off`.
    #[arg(long, env = "PERSISTED_QUERIES", value_enum, default_value_t = crate::http::persisted::PersistedMode::Auto)]
    pub persisted_queries: crate::http::persisted::PersistedMode,

    /// A folder of `*.graphql` documents registered at start, each under the SHA-256 of its
    /// text (needed by PERSISTED_QUERIES=only).
    #[arg(long, env = "PERSISTED_QUERIES_DIR")]
    pub persisted_queries_dir: Option<PathBuf>,

    /// Bytes of report and chart answers kept in memory, per data version (0: none kept).
    #[arg(long, env = "RESPONSE_CACHE_BYTES", default_value_t = crate::state::DEFAULT_RESPONSE_CACHE_BYTES)]
    pub response_cache_bytes: usize,

    /// Shortest time between two `dataChanged` events, in milliseconds: changes that come
    /// faster are announced together.
    #[arg(long, env = "CHANGE_EVENT_INTERVAL_MS",
          default_value_t = crate::service::changes::DEFAULT_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub change_event_interval_ms: u64,

    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_subscriptions_per_connection: u32,

    /// WebSocket connections one client address may hold open at once.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_connections_per_client: u32,

    /// Seconds a WebSocket connection may stay open without any subscription before it is
    /// closed.
    #[arg(long, env = "WS_IDLE_TIMEOUT_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_idle_timeout_seconds: u64,

    /// Where backup sets are kept (the backup and restore mutations).
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// The role of requests without a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnonymousRole {
    /// Refused with 401.
    None,
    /// Aggregates only.
    Viewer,
    /// Plus hire-level rows.
    Analyst,
    /// Plus the insert mutations.
    Editor,
}

/// Who may introspect the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Introspection {
    /// Every caller with a role.
    All,
    /// Admins only.
    Admin,
}

/// JWT settings: JWT is on when JWT_JWKS_URL or JWT_PUBLIC_KEY_FILE is set.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// URL of the identity provider's JWKS document (keys are cached, and fetched again when
    /// a token names an unknown key, at most once a second).
    #[arg(long, env = "JWT_JWKS_URL", conflicts_with = "jwt_public_key_file")]
    pub jwt_jwks_url: Option<String>,

    /// File with the public key (PEM: RSA, EC P-256 or Ed25519) or a JWKS document.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// The `iss` every JWT must carry (required when JWT is on).
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` every JWT must carry (required when JWT is on).
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Claim holding the role: a claim name or a dotted path such as `realm_access.roles`,
    /// a string or a list; the highest of viewer, analyst, editor, admin wins.
    #[arg(long, env = "JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,

    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 30)]
    pub jwt_leeway_seconds: u64,
}

/// A bearer token from a flag or the environment.
///
/// Parsing never fails, so a rejected value is never echoed in an error;
/// surrounding white space (such as a secret file's trailing newline) is
/// dropped, and an empty token is refused after parsing.
#[derive(Clone)]
pub struct Token(pub SecretString);

impl FromStr for Token {
    type Err = Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Token(SecretString::from(raw.trim().to_owned())))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl Token {
    /// True when nothing is left after trimming.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}
