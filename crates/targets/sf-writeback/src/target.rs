//! [`Target`] over SuccessFactors' email and phone records.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use hrsync_source_sf::writeback::{self, Desired};
use hrsync_source_sf::{ContactRecords, UpsertOutcome};
use hrsync_target::{
    AttributeUpdate, Attributes, CheckStep, Comparison, Target, TargetError, TargetObject,
};
use serde_json::Value;

use crate::SfWritebackTarget;
use crate::service::sf_error;
use crate::values::{attributes, merge};

const PERSON_ID: &str = "personIdExternal";
const USER_ID: &str = "userId";

fn refuse(operation: &'static str) -> TargetError {
    TargetError::Rejected {
        operation,
        message: format!(
            "writeback never {}s persons in SuccessFactors (`writeback.actions` takes only `update`)",
            operation
        ),
    }
}

impl SfWritebackTarget {
    fn object(
        &self,
        current: &ContactRecords,
        types: &(hrsync_source_sf::ContactTypes, crate::values::ReportedTypes),
        user_id: Option<&str>,
    ) -> TargetObject {
        let mut attrs = attributes(current, &types.0, &types.1);
        if let Some(u) = user_id {
            attrs.insert(USER_ID.into(), Value::String(u.to_owned()));
        }
        TargetObject {
            id: current.person_id_external.clone(),
            name: None,
            attributes: attrs,
            enabled: None,
        }
    }

    /// Persons by `personIdExternal` or `userId`: value -> object.
    async fn lookup(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, TargetObject>, TargetError> {
        let types = self.types().await?;
        let by_user = if attribute == USER_ID {
            true
        } else if attribute == PERSON_ID {
            false
        } else {
            return Err(TargetError::Rejected {
                operation: "find",
                message: format!(
                    "SuccessFactors persons are found by `{PERSON_ID}` or `{USER_ID}`, not `{attribute}`"
                ),
            });
        };
        // value -> personIdExternal
        let keys: BTreeMap<String, String> = if by_user {
            let ids: Vec<&str> = values.iter().map(String::as_str).collect();
            self.client.person_ids_of_users(&ids).await.map_err(|e| sf_error("find", &e))?
        } else {
            values.iter().map(|v| (v.clone(), v.clone())).collect()
        }
        .into_iter()
        .collect();
        let pids: Vec<&str> = keys.values().map(String::as_str).collect();
        let records = self.records("find", &pids).await?;
        let mut out = HashMap::new();
        for v in values {
            let Some(current) = keys.get(v).and_then(|p| records.get(p)) else { continue };
            out.insert(v.clone(), self.object(current, types, by_user.then_some(v.as_str())));
        }
        Ok(out)
    }
}

#[async_trait]
impl Target for SfWritebackTarget {
    fn kind(&self) -> &'static str {
        "sf-writeback"
    }

    /// Person ids and user ids are compared as written.
    fn comparison(&self) -> Comparison {
        Comparison::Exact
    }

    async fn check(&self) -> Vec<CheckStep> {
        match self.types().await {
            Ok((types, _)) => vec![CheckStep {
                name: "picklists".into(),
                ok: true,
                detail: format!(
                    "read {} email and {} phone types",
                    types.email.options.len(),
                    types.phone.options.len()
                ),
            }],
            Err(e) => {
                vec![CheckStep { name: "picklists".into(), ok: false, detail: e.to_string() }]
            }
        }
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let found = self.lookup(attribute, &[value.to_owned()]).await?;
        Ok(found.into_values().collect())
    }

    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let found = self.lookup(attribute, values).await?;
        Ok(found.into_iter().map(|(k, o)| (k, vec![o])).collect())
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        let types = self.types().await?;
        let records = self.records("get", &[id]).await?;
        Ok(records.get(id).map(|c| self.object(c, types, None)))
    }

    async fn create(&self, _attributes: &Attributes) -> Result<TargetObject, TargetError> {
        Err(refuse("create"))
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        let types = self.types().await?;
        let records = self.records("update", &[id]).await?;
        let Some(current) = records.get(id) else {
            return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
        };
        let values = merge(&attributes(current, &types.0, &types.1), changes);
        let desired = Desired::from_writeback(&values, &types.0)
            .map_err(|e| TargetError::Rejected { operation: "update", message: e.to_string() })?;
        let plan = writeback::plan(current, &desired, self.config.primary);
        let mut problems: Vec<String> =
            plan.conflicts.iter().map(|c| format!("conflict: {c}")).collect();
        for c in &plan.conflicts {
            tracing::warn!(
                message = "Writeback record skipped.",
                person_id = id,
                conflict = %c,
            );
        }
        if !plan.is_empty() {
            let statuses = self
                .client
                .write_plans(std::slice::from_ref(&plan))
                .await
                .map_err(|e| sf_error("update", &e))?;
            let mut unsent = Vec::new();
            for s in &statuses {
                match &s.status.outcome {
                    UpsertOutcome::Ok { .. } => {}
                    UpsertOutcome::Refused { message, .. } => problems.push(format!(
                        "SuccessFactors refused {} {}: {message}",
                        s.write.kind, s.status.key
                    )),
                    UpsertOutcome::RequestFailed { message } => {
                        unsent.push(format!("{} {}: {message}", s.write.kind, s.status.key))
                    }
                }
            }
            if !unsent.is_empty() && problems.is_empty() {
                return Err(TargetError::Unavailable {
                    operation: "update",
                    message: format!("upsert not done: {}", unsent.join("; ")),
                });
            }
            problems.extend(unsent.into_iter().map(|u| format!("upsert not done: {u}")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TargetError::Rejected { operation: "update", message: problems.join("; ") })
        }
    }

    async fn disable(&self, _id: &str) -> Result<(), TargetError> {
        Err(refuse("disable"))
    }

    async fn delete(&self, _id: &str) -> Result<(), TargetError> {
        Err(refuse("delete"))
    }

    /// Nothing in SuccessFactors is made unique by writeback.
    async fn is_taken(
        &self,
        _attribute: &str,
        _value: &str,
        _except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        Ok(false)
    }
}
