//! The writeback target's state: the client, the settings and the cached
//! picklists.

use std::collections::BTreeMap;

use hrsync_source_sf::{ContactRecords, ContactTypes, SfClient, SourceError};
use hrsync_target::TargetError;
use tokio::sync::OnceCell;

use crate::SfWritebackConfig;
use crate::values::ReportedTypes;

/// SuccessFactors as the writeback flow's target (see the crate docs).
pub struct SfWritebackTarget {
    pub(crate) client: SfClient,
    pub(crate) config: SfWritebackConfig,
    /// The type picklists and the reported types, read on first use.
    types: OnceCell<(ContactTypes, ReportedTypes)>,
}

impl SfWritebackTarget {
    pub fn new(client: SfClient, config: SfWritebackConfig) -> Self {
        SfWritebackTarget { client, config, types: OnceCell::new() }
    }

    /// With the picklists already read (`hrsync check` read them, a test
    /// gives them).
    pub fn with_types(
        client: SfClient,
        config: SfWritebackConfig,
        types: ContactTypes,
    ) -> Result<Self, TargetError> {
        let reported = ReportedTypes::resolve(&config, &types).map_err(config_error)?;
        let cell = OnceCell::new_with(Some((types, reported)));
        Ok(SfWritebackTarget { client, config, types: cell })
    }

    /// The type picklists (read once, then cached).
    pub async fn types(&self) -> Result<&(ContactTypes, ReportedTypes), TargetError> {
        self.types
            .get_or_try_init(|| async {
                let types = self.client.contact_types().await.map_err(|e| sf_error("read", &e))?;
                let reported =
                    ReportedTypes::resolve(&self.config, &types).map_err(config_error)?;
                Ok((types, reported))
            })
            .await
    }

    /// The current records of these persons (absent: no such person).
    pub(crate) async fn records(
        &self,
        operation: &'static str,
        person_ids: &[&str],
    ) -> Result<BTreeMap<String, ContactRecords>, TargetError> {
        self.client.contact_records(person_ids).await.map_err(|e| sf_error(operation, &e))
    }
}

fn config_error(e: hrsync_source_sf::PicklistError) -> TargetError {
    TargetError::Rejected { operation: "read", message: format!("writeback type: {e}") }
}

/// A SuccessFactors failure as the engine treats it: credentials, TLS and
/// redirects stop the cycle (no worker is at fault); a refused request
/// fails the worker; the rest is retried later.
pub(crate) fn sf_error(operation: &'static str, e: &SourceError) -> TargetError {
    let message = e.to_string();
    match e {
        SourceError::Unauthorized { .. }
        | SourceError::Tls { .. }
        | SourceError::Redirected { .. }
        | SourceError::ForeignNextLink { .. }
        | SourceError::Auth(_)
        | SourceError::Config(_) => TargetError::Unreachable { operation, message },
        SourceError::Rejected { status, .. } if *status < 500 && *status != 429 => {
            TargetError::Rejected { operation, message }
        }
        _ => TargetError::Unavailable { operation, message },
    }
}
