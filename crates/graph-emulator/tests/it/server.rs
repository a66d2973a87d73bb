use graph_emulator::server::GraphEmulator;

#[tokio::test]
async fn starts_on_a_port_serves_graph_404_and_stops() {
    let g = GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .domain("fabrikam.example")
        .start()
        .await
        .unwrap();
    assert_eq!(g.tenant().verified_domains, vec!["fabrikam.example".to_owned()]);
    assert!(g.tenant().users.is_empty());
    let url = format!("{}/v1.0/groups", g.base_url());
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    g.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());
}
