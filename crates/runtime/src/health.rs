//! Liveness and readiness. Each service declares checks; the process aggregates them for
//! the admin listener (`/healthz`, `/readyz`, `/metrics`), the gateway's public port and
//! each service's gRPC health status.

use crate::bus::Bus;
use crate::kv::Kv;
use crate::objects::ObjectStoreHandle;
use crate::service::ServiceName;
use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::join_all;
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency of a service that must (or, if not `required`, should) be reachable.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// A short name shown in `/readyz`: `database`, `kv`, `identity` …
    fn name(&self) -> &str;

    /// Whether failing makes the service unready. Optional checks are reported only:
    /// a downstream service being down degrades a feature, it must not take the
    /// caller out of its load balancer (DESIGN.md section 6).
    fn required(&self) -> bool {
        true
    }

    async fn check(&self) -> Result<(), String>;
}

pub struct DatabaseCheck(DatabaseConnection);

impl DatabaseCheck {
    pub fn new(db: DatabaseConnection) -> Self {
        Self(db)
    }
}

#[async_trait]
impl ReadinessCheck for DatabaseCheck {
    fn name(&self) -> &str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

pub struct KvCheck(pub Arc<dyn Kv>);

#[async_trait]
impl ReadinessCheck for KvCheck {
    fn name(&self) -> &str {
        "kv"
    }

    /// A store with a local fallback keeps the service working through an outage.
    fn required(&self) -> bool {
        !self.0.has_fallback()
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

pub struct BusCheck(pub Arc<dyn Bus>);

#[async_trait]
impl ReadinessCheck for BusCheck {
    fn name(&self) -> &str {
        "bus"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

pub struct ObjectStoreCheck(pub ObjectStoreHandle);

#[async_trait]
impl ReadinessCheck for ObjectStoreCheck {
    fn name(&self) -> &str {
        "object_store"
    }

    async fn check(&self) -> Result<(), String> {
        // Listing one level of an arbitrary prefix touches the backend without writing.
        let probe = object_store::path::Path::from("readyz");
        self.0
            .list_with_delimiter(Some(&probe))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    pub ok: bool,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub ready: bool,
    pub checks: BTreeMap<String, CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ready: bool,
    pub services: BTreeMap<&'static str, ServiceReport>,
}

/// The readiness checks of every service this process runs.
#[derive(Clone, Default)]
pub struct Health {
    services: Vec<(ServiceName, Vec<Arc<dyn ReadinessCheck>>)>,
}

impl Health {
    pub fn add(&mut self, service: ServiceName, checks: Vec<Arc<dyn ReadinessCheck>>) {
        self.services.push((service, checks));
    }

    pub fn services(&self) -> impl Iterator<Item = ServiceName> + '_ {
        self.services.iter().map(|(name, _)| *name)
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn report(&self) -> Report {
        let reports =
            join_all(self.services.iter().map(|(name, checks)| async move {
                (name.as_str(), service_report(checks).await)
            }))
            .await;
        let ready = reports.iter().all(|(_, report)| report.ready);
        for (name, report) in &reports {
            metrics::gauge!("im_service_ready", "service" => *name)
                .set(f64::from(u8::from(report.ready)));
        }
        Report {
            ready,
            services: reports.into_iter().collect(),
        }
    }
}

pub async fn service_report(checks: &[Arc<dyn ReadinessCheck>]) -> ServiceReport {
    let results = join_all(checks.iter().map(|check| async move {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        let report = CheckReport {
            ok: outcome.is_ok(),
            required: check.required(),
            error: outcome.err(),
        };
        (check.name().to_owned(), report)
    }))
    .await;
    let ready = results.iter().all(|(_, r)| r.ok || !r.required);
    ServiceReport {
        ready,
        checks: results.into_iter().collect(),
    }
}

/// `/healthz` and `/readyz`, mounted on the admin listener and the gateway's public port.
pub fn routes(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(health))
}

/// The admin listener: health routes plus Prometheus `/metrics`.
pub fn admin_router(health: Health, metrics: PrometheusHandle) -> Router {
    let metrics_route = Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }
        }),
    );
    routes(health).merge(metrics_route)
}

async fn healthz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let services: Vec<&str> = health.services().map(ServiceName::as_str).collect();
    Json(serde_json::json!({ "status": "ok", "services": services }))
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let report = health.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (status, Json(report)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, bool, Result<(), String>);

    #[async_trait]
    impl ReadinessCheck for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn required(&self) -> bool {
            self.1
        }
        async fn check(&self) -> Result<(), String> {
            self.2.clone()
        }
    }

    #[tokio::test]
    async fn a_failed_required_check_makes_the_process_unready() {
        let mut health = Health::default();
        health.add(
            ServiceName::Identity,
            vec![Arc::new(Fixed("database", true, Ok(())))],
        );
        assert!(health.report().await.ready);
        health.add(
            ServiceName::Message,
            vec![Arc::new(Fixed(
                "database",
                true,
                Err("connection refused".into()),
            ))],
        );
        let report = health.report().await;
        assert!(!report.ready);
        assert!(report.services["identity"].ready);
        let check = &report.services["message"].checks["database"];
        assert_eq!(check.error.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn an_optional_check_only_reports() {
        let mut health = Health::default();
        health.add(
            ServiceName::Gateway,
            vec![Arc::new(Fixed(
                "identity",
                false,
                Err("unavailable".into()),
            ))],
        );
        let report = health.report().await;
        assert!(report.ready);
        assert!(!report.services["gateway"].checks["identity"].ok);
    }
}
