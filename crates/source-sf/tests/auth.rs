//! OAuth against the emulator: a long paging sync with tokens that expire
//! every two seconds, a burst of requests hitting an expired token, and a
//! revoked client (refresh once, never loop). `auth_logs.rs` greps the logs.

mod oauth_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hrsync_source_sf::{PersonQuery, SourceError};
use oauth_common::{LIFETIME, client, emulator, read_all, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_sync_with_two_second_tokens_fails_no_request_and_refreshes_once_per_lifetime() {
    for method in ["saml-bearer", "workload-identity"] {
        let s = setup(&format!("long-{method}"));
        let emu = emulator(&s, 200, Duration::from_millis(150)).await;
        let auth = if method == "saml-bearer" { s.saml() } else { s.workload(&emu.base_url()) };
        let client = Arc::new(client(&emu, &auth));
        // Four readers in parallel, page size 4: ~50 pages each over several token lifetimes.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let c = Arc::clone(&client);
            tasks.push(tokio::spawn(async move {
                read_all(&c, &PersonQuery { page_size: 4, ..Default::default() }).await
            }));
        }
        for t in tasks {
            let ids = t.await.unwrap().unwrap_or_else(|e| panic!("{method}: sync failed: {e}"));
            assert_eq!(
                ids.iter().collect::<HashSet<_>>().len(),
                200,
                "{method}: every person once"
            );
        }
        let log = emu.requests();
        let failed: Vec<_> = log.iter().filter(|r| r.status != 200).collect();
        assert!(failed.is_empty(), "{method}: failed requests: {failed:?}");
        let oauth = emu.oauth().unwrap();
        let issued = oauth.tokens_issued();
        assert!(issued >= 3, "{method}: the sync outlived several tokens ({issued} issued)");
        assert_eq!(client.token_provider().unwrap().fetches(), issued);
        // One refresh per token lifetime: no two tokens were fetched for the same expiry.
        let times = oauth.issue_times();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= LIFETIME / 2,
                "{method}: two refreshes {:?} apart",
                pair[1] - pair[0]
            );
        }
        emu.shutdown().await;
        let _ = std::fs::remove_dir_all(&s.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_on_an_expired_token_causes_one_refresh_and_no_failure() {
    let s = setup("burst");
    let emu = emulator(&s, 60, Duration::ZERO).await;
    let auth = s.saml();
    let client = Arc::new(client(&emu, &auth));
    let mut streams = Vec::new();
    for _ in 0..8 {
        let q = PersonQuery { page_size: 5, ..Default::default() };
        let mut stream = client.persons(&q).unwrap();
        stream.next_page().await.unwrap().unwrap();
        streams.push(stream);
    }
    assert_eq!(emu.oauth().unwrap().tokens_issued(), 1);
    emu.oauth().unwrap().expire_all();
    let results = futures_join(streams.iter_mut().map(|s| s.next_page())).await;
    for r in results {
        assert!(r.unwrap().is_some());
    }
    assert_eq!(emu.oauth().unwrap().tokens_issued(), 2, "eight 403 [LGN0022] answers, one refresh");
    let expired = emu.requests().iter().filter(|r| r.status == 403).count();
    assert!(expired >= 1, "the expired token was refused at least once");
    emu.shutdown().await;
}

/// Polls futures concurrently on this task (no extra dependency for join_all).
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futs.collect();
    let mut out = Vec::new();
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_retried_once_never_looping() {
    let s = setup("revoked");
    let emu = emulator(&s, 10, Duration::ZERO).await;
    let client = client(&emu, &s.workload(&emu.base_url()));
    read_all(&client, &PersonQuery::default()).await.unwrap();
    assert_eq!(emu.oauth().unwrap().tokens_issued(), 1);
    emu.oauth().unwrap().set_reject_bearer(true);
    emu.clear_requests();
    match read_all(&client, &PersonQuery::default()).await {
        Err(SourceError::Unauthorized { status: 401, .. }) => {}
        other => panic!("expected 401 after one refresh, got {other:?}"),
    }
    assert_eq!(emu.oauth().unwrap().tokens_issued(), 2, "exactly one refresh");
    assert_eq!(emu.requests().len(), 2, "the request and its one retry");
    emu.shutdown().await;
}
