//! Configuration: built-in defaults, then a TOML file (`--config`), then environment
//! variables `IM__SECTION__KEY` (for example `IM__DATABASE__URL`, `IM__HTTP__ADDR`).
//! Unknown keys are errors, so a typo never silently falls back to a default.

use crate::limits::Quota;
use crate::resilience::ResilienceConfig;
use crate::secret::SecretUrl;
use crate::service::ServiceName;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables with this prefix override the file; `__` separates levels.
pub const ENV_PREFIX: &str = "IM__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

/// The effective configuration of one `im` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of this node in the registry and in presence (defaults to a random one).
    pub node_id: String,
    /// Where embedded adapters keep their files (SQLite databases, objects).
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub admin: AdminConfig,
    pub database: DatabaseConfig,
    pub kv: UrlConfig,
    pub bus: UrlConfig,
    pub registry: RegistryConfig,
    pub object_store: ObjectStoreConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    pub auth: AuthConfig,
    pub gateway: GatewayConfig,
    /// Deadlines, retries and circuit breakers of outbound calls; load shedding.
    pub resilience: ResilienceConfig,
    /// Per-service settings, keyed by [`ServiceName::config_key`] (`media_signal`, …).
    pub services: BTreeMap<String, ServiceConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            node_id: format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            data_dir: PathBuf::from("./data"),
            http: HttpConfig::default(),
            admin: AdminConfig::default(),
            database: DatabaseConfig::default(),
            kv: UrlConfig::memory(),
            bus: UrlConfig::memory(),
            registry: RegistryConfig::default(),
            object_store: ObjectStoreConfig::default(),
            log: LogConfig::default(),
            shutdown: ShutdownConfig::default(),
            auth: AuthConfig::default(),
            gateway: GatewayConfig::default(),
            resilience: ResilienceConfig::default(),
            services: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// The gateway's public REST + WebSocket address.
    pub addr: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Per-process admin listener: `/metrics`, `/healthz`, `/readyz`.
    pub addr: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// URL template for every service's database; `{service}` is replaced by the
    /// service's key, e.g. `mysql://im:secret@db:3306/im_{service}`. When unset, each
    /// service gets `sqlite://<data_dir>/<service>.db`.
    pub url: Option<SecretUrl>,
    /// Create the MySQL database named in the URL if it does not exist.
    pub create_if_missing: bool,
    pub max_connections: u32,
    #[serde(with = "humantime_secs")]
    pub connect_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            create_if_missing: true,
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A port whose adapter is chosen by the URL's scheme only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    pub url: SecretUrl,
}

impl UrlConfig {
    fn memory() -> Self {
        Self {
            url: SecretUrl::new("memory://"),
        }
    }
}

impl Default for UrlConfig {
    fn default() -> Self {
        Self::memory()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// `static://` (endpoints below plus this process's own services).
    pub url: SecretUrl,
    /// Known endpoints per service key, e.g. `identity = ["http://10.0.0.5:7101"]`.
    pub endpoints: BTreeMap<String, Vec<String>>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            url: SecretUrl::new("static://"),
            endpoints: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// `file://<dir>` or `memory://`; defaults to `file://<data_dir>/objects`.
    pub url: Option<SecretUrl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// An `EnvFilter` directive such as `info` or `info,im_gateway=debug`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight work may drain after SIGINT/SIGTERM before the process exits.
    #[serde(with = "humantime_secs")]
    pub grace: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
        }
    }
}

/// Tokens, shared by identity (which issues them) and gateways (which verify them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of every access token.
    pub issuer: String,
    /// `aud` of every access token.
    pub audience: String,
    #[serde(with = "humantime_secs")]
    pub access_ttl: Duration,
    #[serde(with = "humantime_secs")]
    pub refresh_ttl: Duration,
    pub login_limits: LoginLimits,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "im".to_owned(),
            audience: "im".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            login_limits: LoginLimits::default(),
        }
    }
}

/// Failed logins tolerated per window before answering 429. The tight limit is per
/// account *and* address, so an attacker elsewhere cannot lock the owner out; the looser
/// per-account limit only slows attacks spread over many addresses, and every limit
/// ends with its window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginLimits {
    #[serde(with = "humantime_secs")]
    pub window: Duration,
    pub per_account_and_ip: u32,
    pub per_ip: u32,
    pub per_account: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_account_and_ip: 5,
            per_ip: 30,
            per_account: 100,
        }
    }
}

/// The public edge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Routes that need no access token: `METHOD /path`, where METHOD may be `*` and a
    /// path ending in `/*` matches everything below it.
    pub public_routes: Vec<String>,
    /// Addresses or CIDRs refused on every request, besides those blocked at run time.
    pub blocked_cidrs: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs); empty: use the peer address.
    pub trusted_proxies: Vec<String>,
    /// Largest accepted request body of the JSON API.
    pub max_body_bytes: usize,
    /// HTTP requests served at once (upgraded WebSockets do not count); beyond it the
    /// gateway answers 503 `overloaded` at once instead of queueing. 0: no cap.
    pub max_in_flight: usize,
    pub rate_limits: RateLimits,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        let public = [
            "POST /api/v1/auth/register",
            "POST /api/v1/auth/login",
            "POST /api/v1/auth/refresh",
            "GET /.well-known/jwks.json",
            "GET /api/v1/openapi.json",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
        ];
        Self {
            public_routes: public.map(str::to_owned).to_vec(),
            blocked_cidrs: Vec::new(),
            trusted_proxies: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_in_flight: 2048,
            rate_limits: RateLimits::default(),
        }
    }
}

/// Request quotas at the gateway, per client address before login and per user after,
/// with tighter ones on costly routes (answered 429 `rate_limited` with `Retry-After`).
/// Shared between gateways through Redis when `kv.url` is Redis. A quota is given whole:
/// `login = { rate = 20, period = 1, burst = 100 }` (`period` in seconds). The defaults
/// stay out of the way of ordinary use and only stop floods.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// `false` turns every quota below off.
    pub enabled: bool,
    /// Every request without a signed-in caller (public routes, WebSocket upgrades), per
    /// client address (an IPv6 client per /64).
    pub per_ip: Quota,
    /// Every request of a signed-in user, per user.
    pub per_user: Quota,
    /// `POST /api/v1/auth/login`, per client address.
    pub login: Quota,
    /// `POST /api/v1/auth/register`, per client address.
    pub register: Quota,
    /// `POST /api/v1/auth/refresh`, per client address.
    pub refresh: Quota,
    /// Sending messages (REST and WebSocket `send`), per user.
    pub message_send: Quota,
    /// `POST /api/v1/files`, per user.
    pub upload: Quota,
    /// Frames of one WebSocket connection.
    pub ws_frames: Quota,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip: Quota::per_second(100, 200),
            per_user: Quota::per_second(50, 200),
            login: Quota::per_second(20, 100),
            register: Quota::per_second(10, 100),
            refresh: Quota::per_second(20, 100),
            message_send: Quota::per_second(20, 100),
            upload: Quota::per_second(5, 20),
            ws_frames: Quota::per_second(20, 40),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Internal gRPC address; unset means a free loopback port.
    pub grpc_addr: Option<SocketAddr>,
    /// Overrides `database.url` for this service.
    pub database_url: Option<SecretUrl>,
}

impl Config {
    /// Defaults, then `file` (which must exist when given), then `IM__…` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Ok(figment.extract().map_err(Box::new)?)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        // Serializing plain structs of strings, numbers and maps cannot fail.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }

    pub fn service(&self, name: ServiceName) -> ServiceConfig {
        self.services
            .get(name.config_key())
            .cloned()
            .unwrap_or_default()
    }

    /// The database URL of one service: its own override, else the shared template,
    /// else an SQLite file under the data directory.
    pub fn database_url(&self, name: ServiceName) -> SecretUrl {
        if let Some(url) = self.service(name).database_url {
            return url;
        }
        match &self.database.url {
            Some(template) => {
                SecretUrl::new(template.expose().replace("{service}", name.config_key()))
            }
            None => SecretUrl::new(format!(
                "sqlite://{}/{}.db",
                self.data_dir.display(),
                name.config_key()
            )),
        }
    }

    pub fn object_store_url(&self) -> SecretUrl {
        self.object_store.url.clone().unwrap_or_else(|| {
            SecretUrl::new(format!(
                "file://{}",
                self.data_dir.join("objects").display()
            ))
        })
    }
}

/// Durations written as whole seconds (`grace = 10`).
mod humantime_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_are_embedded() {
        Jail::expect_with(|_| {
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.http.addr.port(), 8080);
            assert_eq!(config.admin.addr.to_string(), "127.0.0.1:9090");
            assert_eq!(config.kv.url.expose(), "memory://");
            assert_eq!(config.bus.url.expose(), "memory://");
            assert_eq!(
                config.database_url(ServiceName::MediaSignal).expose(),
                "sqlite://./data/media_signal.db"
            );
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "im.toml",
                r#"
                data_dir = "/srv/im"
                [http]
                addr = "127.0.0.1:8081"
                [database]
                url = "mysql://im:pw@db:3306/im_{service}"
                [services.identity]
                grpc_addr = "127.0.0.1:7101"
                "#,
            )?;
            jail.set_env("IM__HTTP__ADDR", "127.0.0.1:8082");
            jail.set_env("IM__KV__URL", "redis://127.0.0.1:6379");
            let config = Config::load(Some(Path::new("im.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                config.http.addr.port(),
                8082,
                "environment wins over the file"
            );
            assert_eq!(config.kv.url.expose(), "redis://127.0.0.1:6379");
            assert_eq!(config.data_dir, PathBuf::from("/srv/im"));
            assert_eq!(
                config.database_url(ServiceName::Message).expose(),
                "mysql://im:pw@db:3306/im_message"
            );
            assert_eq!(
                config.service(ServiceName::Identity).grpc_addr,
                Some("127.0.0.1:7101".parse().unwrap())
            );
            Ok(())
        });
    }

    #[test]
    fn lists_come_from_the_environment_too() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "IM__GATEWAY__TRUSTED_PROXIES",
                r#"["127.0.0.1/32", "10.0.0.0/8"]"#,
            );
            jail.set_env("IM__AUTH__ACCESS_TTL", "60");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                config.gateway.trusted_proxies,
                ["127.0.0.1/32", "10.0.0.0/8"]
            );
            assert_eq!(config.auth.access_ttl, Duration::from_secs(60));
            assert!(
                config
                    .gateway
                    .public_routes
                    .contains(&"POST /api/v1/auth/login".to_owned())
            );
            Ok(())
        });
    }

    #[test]
    fn resilience_is_tuned_in_milliseconds() {
        Jail::expect_with(|jail| {
            jail.set_env("IM__RESILIENCE__DEADLINE_MS", "1500");
            jail.set_env("IM__RESILIENCE__BREAKER__OPEN_MS", "250");
            jail.set_env("IM__RESILIENCE__SERVER__MAX_CONCURRENT_CALLS", "8");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.resilience.deadline, Duration::from_millis(1500));
            assert_eq!(
                config.resilience.breaker.open_for,
                Duration::from_millis(250)
            );
            assert_eq!(config.resilience.server.max_concurrent_calls, 8);
            assert_eq!(config.resilience.retry.max_attempts, 3, "defaults stay");
            jail.set_env("IM__RESILIENCE__DEADLINE", "1500");
            assert!(Config::load(None).is_err(), "the unit is part of the key");
            Ok(())
        });
    }

    #[test]
    fn rate_limits_are_configured_quota_by_quota() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "IM__GATEWAY__RATE_LIMITS__LOGIN",
                "{rate = 1, period = 60, burst = 3}",
            );
            jail.set_env("IM__GATEWAY__RATE_LIMITS__PER_USER__RATE", "5");
            jail.set_env("IM__GATEWAY__RATE_LIMITS__PER_USER__PERIOD", "1");
            jail.set_env("IM__GATEWAY__RATE_LIMITS__PER_USER__BURST", "10");
            jail.set_env("IM__GATEWAY__MAX_IN_FLIGHT", "16");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let limits = &config.gateway.rate_limits;
            assert_eq!(
                limits.login,
                Quota::new(1, Duration::from_secs(60), 3).unwrap()
            );
            assert_eq!(limits.per_user, Quota::per_second(5, 10));
            assert_eq!(limits.register, RateLimits::default().register);
            assert!(limits.enabled);
            assert_eq!(config.gateway.max_in_flight, 16);

            jail.set_env("IM__GATEWAY__RATE_LIMITS__ENABLED", "false");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert!(!config.gateway.rate_limits.enabled);

            jail.set_env("IM__GATEWAY__RATE_LIMITS__UPLOAD__BURST", "0");
            assert!(
                Config::load(None).is_err(),
                "a quota is given whole and valid"
            );
            Ok(())
        });
    }

    #[test]
    fn printed_config_hides_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env("IM__DATABASE__URL", "mysql://im:s3cr3t@db/im_{service}");
            let printed = Config::load(None)
                .map_err(|e| e.to_string())?
                .to_redacted_toml();
            assert!(!printed.contains("s3cr3t"), "{printed}");
            assert!(printed.contains("[redacted]"), "{printed}");
            Ok(())
        });
    }

    #[test]
    fn typos_and_missing_files_are_errors() {
        Jail::expect_with(|jail| {
            jail.set_env("IM__HTTP__ADRR", "127.0.0.1:1");
            assert!(Config::load(None).is_err(), "unknown key must be rejected");
            Ok(())
        });
        assert!(matches!(
            Config::load(Some(Path::new("/nonexistent/im.toml"))),
            Err(ConfigError::MissingFile(_))
        ));
    }
}
