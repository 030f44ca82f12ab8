//! Command-line interface: parses arguments into a loaded [`Config`] and a command.

use crate::{serve, wiring};
use clap::{Args, Parser, Subcommand};
use im_runtime::{Config, ServiceName, telemetry};
use std::net::SocketAddr;
use std::path::PathBuf;

/// IM, an instant-messaging server.
///
/// Runs every service in one process on embedded defaults (SQLite, in-memory bus and
/// cache, local disk), or any subset of them against MySQL, Redis, Kafka, etcd and S3,
/// chosen by configuration. Configuration is read from built-in defaults, then the
/// `--config` file (TOML), then environment variables `IM__SECTION__KEY` (for example
/// `IM__DATABASE__URL=mysql://root@127.0.0.1:3306/im_{service}`), then the flags below.
#[derive(Debug, Parser)]
#[command(name = "im", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for embedded data (SQLite files, objects). Default: ./data
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start services: all of them by default, each on its own gRPC listener, plus the
    /// gateway's public HTTP port and an admin listener (/metrics, /healthz, /readyz).
    Serve(ServeArgs),
    /// Bring every selected service's database schema up to date, then exit.
    Migrate {
        /// Comma-separated services, or `all`.
        #[arg(long, default_value = "all", value_name = "LIST")]
        services: String,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administrative tasks, run against the configured databases (use the same
    /// `--config` and `--data-dir` as `im serve`).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user, for example the first administrator. The password is read from
    /// standard input (one line), so it never appears in the process list or history.
    CreateUser {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Give the user the `admin` role.
        #[arg(long)]
        admin: bool,
    },
    /// Generate a new token signing key. Tokens signed with the old keys stay valid
    /// until they expire; their public keys stay in the JWKS until then.
    RotateKeys,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Comma-separated services to run in this process, or `all`. The others are found
    /// through the registry. Known: gateway, identity, conversation, message, delivery,
    /// presence, file, media-signal.
    #[arg(long, default_value = "all", value_name = "LIST")]
    services: String,
    /// The gateway's public HTTP address. Default: 0.0.0.0:8080
    #[arg(long, value_name = "HOST:PORT")]
    http_addr: Option<SocketAddr>,
    /// The admin listener's address. Default: 127.0.0.1:9090
    #[arg(long, value_name = "HOST:PORT")]
    admin_addr: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, with secrets redacted.
    Print,
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let mut config = Config::load(self.global.config.as_deref())?;
        if let Some(dir) = self.global.data_dir {
            config.data_dir = dir;
        }
        match self.command {
            Command::Serve(args) => {
                if let Some(addr) = args.http_addr {
                    config.http.addr = addr;
                }
                if let Some(addr) = args.admin_addr {
                    config.admin.addr = addr;
                }
                let services = parse_services(&args.services)?;
                telemetry::init_logging(&config.log)?;
                // Boxed: every service's build future lives inside this one.
                Box::pin(serve::run(config, services)).await
            }
            Command::Migrate { services } => {
                let services = parse_services(&services)?;
                telemetry::init_logging(&config.log)?;
                wiring::migrate(config, &services).await
            }
            Command::Admin(command) => {
                telemetry::init_logging(&config.log)?;
                admin(config, command).await
            }
            Command::Config(ConfigCommand::Print) => {
                #[allow(clippy::print_stdout)] // printing is this command's whole job
                {
                    print!("{}", config.to_redacted_toml());
                }
                Ok(())
            }
        }
    }
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let ctx = wiring::context(config).await?;
    #[allow(clippy::print_stdout)] // the result of an admin command is its output
    match command {
        AdminCommand::CreateUser {
            username,
            password_stdin: _,
            admin,
        } => {
            let password = read_password_line()?;
            let (id, username) =
                im_identity::admin::create_user(&ctx, &username, &password, admin).await?;
            println!(
                "created user {username} ({id}){}",
                if admin { " with role admin" } else { "" }
            );
        }
        AdminCommand::RotateKeys => {
            let kid = im_identity::admin::rotate_keys(&ctx).await?;
            println!("new signing key {kid}; running identity instances pick it up within 30 s");
        }
    }
    Ok(())
}

/// One line from standard input, without its line ending.
fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

/// `all` or a comma-separated list, deduplicated, in the canonical order.
fn parse_services(list: &str) -> anyhow::Result<Vec<ServiceName>> {
    if list.trim().eq_ignore_ascii_case("all") {
        return Ok(ServiceName::ALL.to_vec());
    }
    let mut services = list
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<ServiceName>, _>>()?;
    services.sort();
    services.dedup();
    anyhow::ensure!(!services.is_empty(), "--services names no service");
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lists() {
        assert_eq!(parse_services("all").unwrap().len(), 8);
        assert_eq!(
            parse_services("message, gateway,message").unwrap(),
            vec![ServiceName::Gateway, ServiceName::Message]
        );
        assert!(parse_services("gateway,billing").is_err());
        assert!(parse_services(",").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
