//! The queue's [`Transport`] over HTTP: a `POST` per request body.

use std::time::Duration;

use aion::remote::queue::{Response, Transport};

/// Posts remote-write bodies to one URL. A status (any) is an answer the
/// queue judges; no answer (refused, reset, timed out) is a network error
/// it retries.
pub struct HttpTransport {
    http: ureq::Agent,
    url: String,
}

impl HttpTransport {
    /// A transport to `url` with Prometheus's `remote_timeout` (30 s).
    pub fn new(url: &str) -> HttpTransport {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent("aion-agent")
            .build()
            .into();
        HttpTransport {
            http,
            url: url.to_string(),
        }
    }
}

impl Transport for HttpTransport {
    fn send(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Response, String> {
        let mut req = self.http.post(&self.url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(body).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        // Read the (short) body so the connection can be reused.
        let _ = resp.body_mut().with_config().limit(1 << 20).read_to_vec();
        Ok(Response { status, headers })
    }
}
