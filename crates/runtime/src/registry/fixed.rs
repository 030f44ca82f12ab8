//! `static://`: endpoints written in configuration, plus the instances this process
//! registers itself (how the all-in-one mode finds its own services on free ports).

use super::{Instance, Registry, RegistryError, validate_endpoint};
use crate::config::RegistryConfig;
use crate::service::ServiceName;
use async_trait::async_trait;
use std::sync::RwLock;

#[derive(Default)]
pub struct StaticRegistry {
    configured: Vec<Instance>,
    local: RwLock<Vec<Instance>>,
}

impl StaticRegistry {
    pub fn from_config(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let mut configured = Vec::new();
        for (key, endpoints) in &config.endpoints {
            let service: ServiceName =
                key.parse().map_err(|e: crate::service::UnknownService| {
                    RegistryError::InvalidEndpoint {
                        service: key.clone(),
                        endpoint: String::new(),
                        reason: e.to_string(),
                    }
                })?;
            for endpoint in endpoints {
                validate_endpoint(service, endpoint)?;
                configured.push(Instance {
                    service,
                    id: format!("static:{endpoint}"),
                    endpoint: endpoint.clone(),
                });
            }
        }
        Ok(Self {
            configured,
            local: RwLock::default(),
        })
    }
}

#[async_trait]
impl Registry for StaticRegistry {
    async fn register(&self, instance: Instance) -> Result<(), RegistryError> {
        validate_endpoint(instance.service, &instance.endpoint)?;
        let mut local = self.local.write().unwrap_or_else(|p| p.into_inner());
        local.retain(|existing| existing.id != instance.id);
        local.push(instance);
        Ok(())
    }

    async fn deregister(&self, instance: &Instance) -> Result<(), RegistryError> {
        let mut local = self.local.write().unwrap_or_else(|p| p.into_inner());
        local.retain(|existing| existing.id != instance.id);
        Ok(())
    }

    async fn resolve(&self, service: ServiceName) -> Result<Vec<Instance>, RegistryError> {
        let local = self.local.read().unwrap_or_else(|p| p.into_inner());
        // Own instances first: in-process calls never leave the machine.
        Ok(local
            .iter()
            .chain(&self.configured)
            .filter(|instance| instance.service == service)
            .cloned()
            .collect())
    }
}
