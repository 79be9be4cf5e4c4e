//! One client connection: four-letter words, the handshake, then requests until either side
//! closes. Requests are decoded here (in parallel across connections) and handed to the core in
//! order; replies come back through an unbounded channel (its size is bounded by the
//! outstanding-request limit plus watch events) and are written in batches.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::codec::Decoder;
use tracing::{debug, info_span, warn, Instrument};
use zk_proto::{ConnectRequest, ErrorCode, FrameCodec, OpCode, Record, RequestBody, RequestHeader};

use crate::core::reply::reply_frame;
use crate::core::{CoreMsg, Outbound};
use crate::watch::ConnId;

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub core: mpsc::Sender<CoreMsg>,
    pub max_frame: usize,
    pub max_outstanding: usize,
    pub whitelist: BTreeSet<String>,
}

enum Next {
    Continue,
    Close,
}

/// Runs one connection to completion.
pub(crate) async fn run(
    stream: TcpStream,
    id: ConnId,
    peer: SocketAddr,
    ctx: Arc<ConnCtx>,
    shutdown: broadcast::Receiver<()>,
) {
    let span = info_span!("conn", id, %peer, session = tracing::field::Empty);
    async move {
        if let Err(e) = run_inner(stream, id, peer, &ctx, shutdown).await {
            debug!(error = %e, "connection ended with error");
        }
        let _ = ctx.core.send(CoreMsg::Closed { conn: id }).await;
    }
    .instrument(span)
    .await
}

async fn run_inner(
    mut stream: TcpStream,
    id: ConnId,
    peer: SocketAddr,
    ctx: &ConnCtx,
    mut shutdown: broadcast::Receiver<()>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(4096);
    while buf.len() < 4 {
        tokio::select! {
            n = stream.read_buf(&mut buf) => if n? == 0 { return Ok(()) },
            _ = shutdown.recv() => return Ok(()),
        }
    }
    if let Ok(word) = std::str::from_utf8(&buf[..4]) {
        if crate::config::FOUR_LETTER_WORDS.contains(&word) {
            let word = word.to_string();
            let out = if ctx.whitelist.contains(&word) {
                let (tx, rx) = oneshot::channel();
                let _ = ctx
                    .core
                    .send(CoreMsg::FourLetter {
                        cmd: word.clone(),
                        reply: tx,
                    })
                    .await;
                rx.await.unwrap_or_default()
            } else {
                crate::admin::not_whitelisted(&word)
            };
            stream.write_all(out.as_bytes()).await?;
            stream.shutdown().await?;
            return Ok(());
        }
    }
    let mut codec = FrameCodec::new(ctx.max_frame);
    // The handshake.
    let frame = loop {
        match codec.decode(&mut buf) {
            Ok(Some(f)) => break f,
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, "bad handshake frame; closing");
                return Ok(());
            }
        }
        tokio::select! {
            n = stream.read_buf(&mut buf) => if n? == 0 { return Ok(()) },
            _ = shutdown.recv() => return Ok(()),
        }
    };
    let mut frame = frame;
    let req = match ConnectRequest::read(&mut frame) {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "malformed connect request; closing");
            return Ok(());
        }
    };
    let (out_tx, mut out_rx) = mpsc::unbounded_channel();
    if ctx
        .core
        .send(CoreMsg::Connect {
            conn: id,
            peer: Some(peer),
            req,
            out: out_tx,
        })
        .await
        .is_err()
    {
        return Ok(());
    }
    let (mut rd, mut wr) = stream.into_split();
    let mut established = false;
    let mut inflight = 0usize;
    let mut wbuf = BytesMut::with_capacity(8192);
    loop {
        let can_read = established && inflight < ctx.max_outstanding;
        tokio::select! {
            biased;
            o = out_rx.recv() => {
                let Some(o) = o else { break };
                let mut next = absorb(o, &mut wbuf, &mut established, &mut inflight);
                while matches!(next, Next::Continue) {
                    match out_rx.try_recv() {
                        Ok(o) => next = absorb(o, &mut wbuf, &mut established, &mut inflight),
                        Err(_) => break,
                    }
                }
                if !wbuf.is_empty() {
                    wr.write_all(&wbuf).await?;
                    wbuf.clear();
                }
                if matches!(next, Next::Close) {
                    let _ = wr.shutdown().await;
                    break;
                }
                if established && !pump(&mut codec, &mut buf, id, ctx, &mut inflight, &mut wbuf).await {
                    if !wbuf.is_empty() {
                        wr.write_all(&wbuf).await?;
                    }
                    break;
                }
            }
            n = rd.read_buf(&mut buf), if can_read => {
                if n? == 0 {
                    break;
                }
                if !pump(&mut codec, &mut buf, id, ctx, &mut inflight, &mut wbuf).await {
                    if !wbuf.is_empty() {
                        wr.write_all(&wbuf).await?;
                    }
                    break;
                }
            }
            // No shutdown arm here: on shutdown the core finishes the writes in flight, then
            // sends Close to every connection (and if the core is gone, `out_rx` ends). That
            // also spares a broadcast-lock per loop turn.
        }
    }
    Ok(())
}

fn absorb(o: Outbound, wbuf: &mut BytesMut, established: &mut bool, inflight: &mut usize) -> Next {
    match o {
        Outbound::Connected(f) => {
            *established = true;
            wbuf.extend_from_slice(&f);
        }
        Outbound::Reply(f) => {
            *inflight = inflight.saturating_sub(1);
            wbuf.extend_from_slice(&f);
        }
        Outbound::Event(f) => wbuf.extend_from_slice(&f),
        Outbound::Close(f) => {
            if let Some(f) = f {
                wbuf.extend_from_slice(&f);
            }
            return Next::Close;
        }
    }
    Next::Continue
}

/// Decodes complete frames while the outstanding limit allows and hands them to the core.
/// Returns false when the connection must close (bad frame, core gone).
async fn pump(
    codec: &mut FrameCodec,
    buf: &mut BytesMut,
    id: ConnId,
    ctx: &ConnCtx,
    inflight: &mut usize,
    wbuf: &mut BytesMut,
) -> bool {
    // One clock read per batch of frames: they all arrived with the same read.
    let received = crate::core::clock_us();
    while *inflight < ctx.max_outstanding {
        let mut frame: Bytes = match codec.decode(buf) {
            Ok(Some(f)) => f,
            Ok(None) => return true,
            Err(e) => {
                warn!(error = %e, "invalid frame; closing connection");
                return false;
            }
        };
        let header = match RequestHeader::read(&mut frame) {
            Ok(h) => h,
            Err(e) => {
                warn!(error = %e, "malformed request header; closing connection");
                return false;
            }
        };
        let body = match RequestBody::read(header.opcode, &mut frame) {
            Ok(b) => Ok(b),
            // createSession from a client, or a body that does not decode: Apache answers
            // MARSHALLINGERROR and keeps the connection.
            Err(zk_proto::DecodeError::UnknownOpCode(op)) if op == OpCode::CreateSession.code() => {
                debug!(
                    opcode = op,
                    "createSession from a client; answering MARSHALLINGERROR"
                );
                Err(ErrorCode::MarshallingError)
            }
            Err(zk_proto::DecodeError::UnknownOpCode(op)) => {
                warn!(
                    opcode = op,
                    "unknown request type; answering UNIMPLEMENTED and closing"
                );
                wbuf.extend_from_slice(&reply_frame(
                    header.xid,
                    -1,
                    &Err(ErrorCode::Unimplemented),
                ));
                return false;
            }
            Err(e) => {
                debug!(error = %e, opcode = header.opcode, "malformed request body; answering MARSHALLINGERROR");
                Err(ErrorCode::MarshallingError)
            }
        };
        *inflight += 1;
        if ctx
            .core
            .send(CoreMsg::Request {
                conn: id,
                xid: header.xid,
                received,
                body,
            })
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}
