//! `populate`: fills a server with many small znodes (pipelined creates), for memory figures.

use std::time::Instant;

use bytes::Bytes;
use zk_proto::records::node::CreateRequest;
use zk_proto::{Acl, ErrorCode, Record, ReplyHeader, RequestBody};

use crate::args::Args;
use crate::conn::Conn;
use crate::error::BenchError;
use crate::load::DEFAULT_VALUE_SIZE;
use crate::report::Json;

/// Requests kept in flight while populating.
const POPULATE_INFLIGHT: usize = 256;

/// Creates `--count` persistent nodes of `--value-size` bytes under a fresh parent.
pub async fn run(args: &Args) -> Result<String, BenchError> {
    let count: usize = args.num("count", 200_000)?;
    let value = Bytes::from(vec![b'v'; args.num("value-size", DEFAULT_VALUE_SIZE)?]);
    let parent = format!("/zk-bench-pop-{}", std::process::id());
    let mut conn = Conn::connect(args.req("connect")?).await?;
    let create = |path: String, data: Bytes| {
        RequestBody::Create(CreateRequest {
            path,
            data: Some(data),
            acl: Acl::open_unsafe(),
            flags: 0,
        })
    };
    conn.call("create", &create(parent.clone(), Bytes::new()))
        .await?;
    let at = Instant::now();
    let (mut sent, mut done) = (0usize, 0usize);
    while done < count {
        while sent < count && sent - done < POPULATE_INFLIGHT {
            conn.queue(&create(format!("{parent}/n{sent:08}"), value.clone()));
            sent += 1;
        }
        conn.flush().await?;
        let mut frame = conn.read_frame().await?;
        let h = ReplyHeader::read(&mut frame)?;
        if h.err != 0 && h.err != ErrorCode::NodeExists.code() {
            return Err(BenchError::Server {
                op: "create",
                code: h.err,
            });
        }
        done += 1;
    }
    let mut j = Json::new("populate");
    j.num("nodes", count as f64)
        .num("secs", at.elapsed().as_secs_f64());
    Ok(j.finish())
}
