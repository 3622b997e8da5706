//! The object store's HTTP client, with its answers bounded: the store is another
//! machine, and object_store reads an error's or a multipart step's answer whole (into
//! its error message, which the hub logs). Every answer but the bytes of a clip read
//! back is cut at [`ANSWER_MAX`]: what a store says of a failure fits in it many times.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpResponseBody, HttpService,
    ReqwestConnector,
};

/// The most of an answer read, but for a clip's bytes.
pub(super) const ANSWER_MAX: usize = 64 << 10;

/// Makes object_store's clients: reqwest's, their answers bounded.
#[derive(Debug, Default)]
pub(super) struct BoundedConnector;

impl HttpConnector for BoundedConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Bounded(inner)))
    }
}

#[derive(Debug)]
struct Bounded(HttpClient);

#[async_trait::async_trait]
impl HttpService for Bounded {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let reads_a_file = request.method() == "GET";
        let response = self.0.execute(request).await?;
        if reads_a_file && response.status().is_success() {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let kept = first_bytes(body, ANSWER_MAX).await?;
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::from(kept),
        ))
    }
}

/// The first `max` bytes of `body`; the rest is not read (the connection goes).
async fn first_bytes(body: HttpResponseBody, max: usize) -> Result<Bytes, HttpError> {
    let mut kept = BytesMut::new();
    let mut chunks = body.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let room = max - kept.len();
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if kept.len() == max {
            break;
        }
    }
    Ok(kept.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_is_read_up_to_its_bound_only() {
        let big = HttpResponseBody::from(vec![7u8; 10 * ANSWER_MAX]);
        assert_eq!(
            first_bytes(big, ANSWER_MAX).await.unwrap().len(),
            ANSWER_MAX
        );
        let small = HttpResponseBody::from("<Error>SlowDown</Error>".to_owned());
        assert_eq!(
            first_bytes(small, ANSWER_MAX).await.unwrap(),
            "<Error>SlowDown</Error>"
        );
    }
}
