//! `check` of the embedded target: the file opens and its objects can be
//! counted.

use hrsync_target::CheckStep;

use crate::EmbeddedTarget;

pub(crate) fn check(t: &EmbeddedTarget) -> Vec<CheckStep> {
    let conn = t.connection();
    let r = conn.query_row("SELECT count(*) FROM object", [], |r| r.get::<_, i64>(0));
    vec![match r {
        Ok(n) => {
            CheckStep { name: "open directory".into(), ok: true, detail: format!("{n} objects") }
        }
        Err(e) => CheckStep { name: "open directory".into(), ok: false, detail: e.to_string() },
    }]
}
