//! A plain HTTP/1.1 keep-alive client on `std::net`: one connection per
//! load thread, requests with a `Content-Length`, answers read with a
//! fixed length or chunked, so the load generator measures the servers
//! and not an HTTP stack of its own.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One kept-alive connection.
pub struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// An answer's status and the headers the bench looks at.
pub struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
    pub chunked: bool,
}

impl Conn {
    pub fn connect(addr: &str) -> io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            addr: addr.to_string(),
            reader: BufReader::with_capacity(64 << 10, s.try_clone()?),
            writer: s,
        })
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (n, v) in headers {
            req.push_str(n);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.writer.write_all(req.as_bytes())?;
        self.writer.write_all(body)
    }

    fn head(&mut self) -> io::Result<Head> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
        };
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "header cut"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                return Ok(head);
            }
            if let Some((n, v)) = l.split_once(':') {
                let v = v.trim();
                if n.eq_ignore_ascii_case("content-length") {
                    head.content_length = v.parse().ok();
                } else if n.eq_ignore_ascii_case("transfer-encoding") {
                    head.chunked = v.eq_ignore_ascii_case("chunked");
                }
            }
        }
    }

    /// Sends a request and reads the whole answer: (status, body).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, Vec<u8>)> {
        self.send(method, path, headers, body)?;
        let head = self.head()?;
        let mut out = Vec::new();
        self.body(&head).read_to_end(&mut out)?;
        Ok((head.status, out))
    }

    /// Sends a request and hands back the answer's body as a reader.
    pub fn stream(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<(u16, Body<'_>)> {
        self.send(method, path, headers, body)?;
        let head = self.head()?;
        let status = head.status;
        Ok((status, self.body(&head)))
    }

    fn body(&mut self, head: &Head) -> Body<'_> {
        let left = match (head.chunked, head.content_length) {
            (true, _) => Left::Chunk(0),
            (false, Some(n)) => Left::Fixed(n),
            // 204 and the like.
            (false, None) => Left::Fixed(0),
        };
        Body {
            reader: &mut self.reader,
            left,
        }
    }
}

enum Left {
    Fixed(usize),
    /// Bytes left in the current chunk (0: read the next size line).
    Chunk(usize),
    Done,
}

/// An answer body: fixed-length or chunked.
pub struct Body<'a> {
    reader: &'a mut BufReader<TcpStream>,
    left: Left,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.left {
                Left::Done | Left::Fixed(0) => return Ok(0),
                Left::Fixed(n) => {
                    let k = n.min(buf.len());
                    let got = self.reader.read(&mut buf[..k])?;
                    if got == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "body cut"));
                    }
                    self.left = Left::Fixed(n - got);
                    return Ok(got);
                }
                Left::Chunk(0) => {
                    let mut line = String::new();
                    self.reader.read_line(&mut line)?;
                    let size =
                        usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                            .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
                    if size == 0 {
                        // Trailer: an empty line.
                        line.clear();
                        self.reader.read_line(&mut line)?;
                        self.left = Left::Done;
                        return Ok(0);
                    }
                    self.left = Left::Chunk(size);
                }
                Left::Chunk(n) => {
                    let k = n.min(buf.len());
                    let got = self.reader.read(&mut buf[..k])?;
                    if got == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk cut"));
                    }
                    if got == n {
                        let mut crlf = [0u8; 2];
                        self.reader.read_exact(&mut crlf)?;
                    }
                    self.left = Left::Chunk(n - got);
                    return Ok(got);
                }
            }
        }
    }
}
