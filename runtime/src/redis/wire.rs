//! The frames servers exchange on the backplane channel, encoded once here and decoded once here.
//!
//! A frame is `version (1) · origin server id (16) · kind (1) · fields`. Strings and byte strings are a
//! little-endian `u32` length then the bytes; lists are a `u32` count then strings; numbers are little-endian
//! `u64`. A frame from a newer version, or one that does not parse, is refused with a reason (the receiver
//! logs and counts it) rather than guessed at.

use bytes::Bytes;

/// The frame layout version; bumped on any incompatible change.
const VERSION: u8 = 1;

/// The id every server picks at start (random), so it can ignore its own frames and address replies.
pub(crate) type ServerId = [u8; 16];

/// How a client result ended on the server that owns the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyOutcome {
    /// The client's result, raw JSON.
    Result(String),
    /// The client answered with an error.
    ClientError(String),
    /// The client did not answer in time.
    Timeout,
    /// The connection ended first, or could not take the invocation.
    Disconnected(String),
}

/// One backplane message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// To every connection except `excluded`.
    All {
        excluded: Vec<String>,
        payload: Bytes,
    },
    /// To one connection.
    Connection { id: String, payload: Bytes },
    /// To the members of a group except `excluded`.
    Group {
        group: String,
        excluded: Vec<String>,
        payload: Bytes,
    },
    /// To every connection of a user.
    User { user: String, payload: Bytes },
    /// The server that owns `connection` adds it to `group`.
    AddToGroup { connection: String, group: String },
    /// The server that owns `connection` removes it from `group`.
    RemoveFromGroup { connection: String, group: String },
    /// The server that owns `connection` runs a client result and answers with [`Frame::Reply`].
    Invoke {
        request: u64,
        connection: String,
        target: String,
        arguments: String,
        timeout_ms: u64,
    },
    /// The answer to [`Frame::Invoke`] `request`, for server `to`.
    Reply {
        to: ServerId,
        request: u64,
        outcome: ReplyOutcome,
    },
}

impl Frame {
    /// Encodes the frame as sent by server `origin`.
    pub(crate) fn encode(&self, origin: &ServerId) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.payload_len());
        out.push(VERSION);
        out.extend_from_slice(origin);
        match self {
            Frame::All { excluded, payload } => {
                out.push(1);
                put_list(&mut out, excluded);
                put_bytes(&mut out, payload);
            }
            Frame::Connection { id, payload } => {
                out.push(2);
                put_bytes(&mut out, id.as_bytes());
                put_bytes(&mut out, payload);
            }
            Frame::Group {
                group,
                excluded,
                payload,
            } => {
                out.push(3);
                put_bytes(&mut out, group.as_bytes());
                put_list(&mut out, excluded);
                put_bytes(&mut out, payload);
            }
            Frame::User { user, payload } => {
                out.push(4);
                put_bytes(&mut out, user.as_bytes());
                put_bytes(&mut out, payload);
            }
            Frame::AddToGroup { connection, group } => {
                out.push(5);
                put_bytes(&mut out, connection.as_bytes());
                put_bytes(&mut out, group.as_bytes());
            }
            Frame::RemoveFromGroup { connection, group } => {
                out.push(6);
                put_bytes(&mut out, connection.as_bytes());
                put_bytes(&mut out, group.as_bytes());
            }
            Frame::Invoke {
                request,
                connection,
                target,
                arguments,
                timeout_ms,
            } => {
                out.push(7);
                out.extend_from_slice(&request.to_le_bytes());
                put_bytes(&mut out, connection.as_bytes());
                put_bytes(&mut out, target.as_bytes());
                put_bytes(&mut out, arguments.as_bytes());
                out.extend_from_slice(&timeout_ms.to_le_bytes());
            }
            Frame::Reply {
                to,
                request,
                outcome,
            } => {
                out.push(8);
                out.extend_from_slice(to);
                out.extend_from_slice(&request.to_le_bytes());
                let (code, text) = match outcome {
                    ReplyOutcome::Result(t) => (0, t.as_str()),
                    ReplyOutcome::ClientError(t) => (1, t.as_str()),
                    ReplyOutcome::Timeout => (2, ""),
                    ReplyOutcome::Disconnected(t) => (3, t.as_str()),
                };
                out.push(code);
                put_bytes(&mut out, text.as_bytes());
            }
        }
        out
    }

    fn payload_len(&self) -> usize {
        match self {
            Frame::All { payload, .. }
            | Frame::Connection { payload, .. }
            | Frame::Group { payload, .. }
            | Frame::User { payload, .. } => payload.len(),
            Frame::Invoke { arguments, .. } => arguments.len(),
            _ => 0,
        }
    }

    /// Decodes a frame, returning its origin server.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(ServerId, Frame), String> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(format!(
                "frame version {version}, this server speaks {VERSION}"
            ));
        }
        let origin = r.id()?;
        let frame = match r.u8()? {
            1 => Frame::All {
                excluded: r.list()?,
                payload: r.payload()?,
            },
            2 => Frame::Connection {
                id: r.string()?,
                payload: r.payload()?,
            },
            3 => Frame::Group {
                group: r.string()?,
                excluded: r.list()?,
                payload: r.payload()?,
            },
            4 => Frame::User {
                user: r.string()?,
                payload: r.payload()?,
            },
            5 => Frame::AddToGroup {
                connection: r.string()?,
                group: r.string()?,
            },
            6 => Frame::RemoveFromGroup {
                connection: r.string()?,
                group: r.string()?,
            },
            7 => Frame::Invoke {
                request: r.u64()?,
                connection: r.string()?,
                target: r.string()?,
                arguments: r.string()?,
                timeout_ms: r.u64()?,
            },
            8 => {
                let to = r.id()?;
                let request = r.u64()?;
                let code = r.u8()?;
                let text = r.string()?;
                let outcome = match code {
                    0 => ReplyOutcome::Result(text),
                    1 => ReplyOutcome::ClientError(text),
                    2 => ReplyOutcome::Timeout,
                    3 => ReplyOutcome::Disconnected(text),
                    other => return Err(format!("unknown reply outcome {other}")),
                };
                Frame::Reply {
                    to,
                    request,
                    outcome,
                }
            }
            other => return Err(format!("unknown frame kind {other}")),
        };
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok((origin, frame))
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a backplane field is under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_list(out: &mut Vec<u8>, items: &[String]) {
    let count = u32::try_from(items.len()).expect("fewer than 4 billion items");
    out.extend_from_slice(&count.to_le_bytes());
    for item in items {
        put_bytes(out, item.as_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("truncated frame (needs {n} bytes at offset {})", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn id(&mut self) -> Result<ServerId, String> {
        Ok(self.take(16)?.try_into().expect("16 bytes"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| "a text field is not UTF-8".to_owned())
    }

    fn payload(&mut self) -> Result<Bytes, String> {
        Ok(Bytes::copy_from_slice(self.bytes()?))
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let count = self.u32()? as usize;
        // Each item takes at least its 4-byte length: a count beyond that is a lie, not an allocation.
        if count > (self.bytes.len() - self.at) / 4 {
            return Err(format!("list of {count} items in a short frame"));
        }
        (0..count).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: ServerId = *b"0123456789abcdef";

    fn samples() -> Vec<Frame> {
        let payload = Bytes::from_static(b"{\"type\":1,\"target\":\"x\",\"arguments\":[]}\x1e");
        vec![
            Frame::All {
                excluded: vec!["a".into(), "b".into()],
                payload: payload.clone(),
            },
            Frame::Connection {
                id: "conn".into(),
                payload: payload.clone(),
            },
            Frame::Group {
                group: "grüppe".into(),
                excluded: vec![],
                payload: payload.clone(),
            },
            Frame::User {
                user: "alice".into(),
                payload,
            },
            Frame::AddToGroup {
                connection: "c".into(),
                group: "g".into(),
            },
            Frame::RemoveFromGroup {
                connection: "c".into(),
                group: "g".into(),
            },
            Frame::Invoke {
                request: 7,
                connection: "c".into(),
                target: "GetName".into(),
                arguments: "[1,\"two\"]".into(),
                timeout_ms: 5000,
            },
            Frame::Reply {
                to: *b"fedcba9876543210",
                request: 7,
                outcome: ReplyOutcome::Result("\"bob\"".into()),
            },
            Frame::Reply {
                to: ORIGIN,
                request: 8,
                outcome: ReplyOutcome::ClientError("no handler".into()),
            },
            Frame::Reply {
                to: ORIGIN,
                request: 9,
                outcome: ReplyOutcome::Timeout,
            },
            Frame::Reply {
                to: ORIGIN,
                request: 10,
                outcome: ReplyOutcome::Disconnected("gone".into()),
            },
        ]
    }

    #[test]
    fn every_frame_round_trips() {
        for frame in samples() {
            let bytes = frame.encode(&ORIGIN);
            assert_eq!(Frame::decode(&bytes), Ok((ORIGIN, frame)));
        }
    }

    #[test]
    fn every_truncation_is_refused_not_guessed() {
        for frame in samples() {
            let bytes = frame.encode(&ORIGIN);
            for cut in 0..bytes.len() {
                assert!(
                    Frame::decode(&bytes[..cut]).is_err(),
                    "{frame:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn unknown_versions_kinds_and_trailing_bytes_are_refused() {
        let mut bytes = samples()[0].encode(&ORIGIN);
        bytes.push(0);
        assert!(Frame::decode(&bytes).unwrap_err().contains("trailing"));
        let mut bytes = samples()[0].encode(&ORIGIN);
        bytes[0] = 2;
        assert!(Frame::decode(&bytes).unwrap_err().contains("version 2"));
        let mut bytes = samples()[0].encode(&ORIGIN);
        bytes[17] = 99;
        assert!(Frame::decode(&bytes).unwrap_err().contains("kind 99"));
    }

    #[test]
    fn a_huge_list_count_does_not_allocate() {
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&ORIGIN);
        bytes.push(1);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Frame::decode(&bytes).unwrap_err().contains("short frame"));
    }
}
