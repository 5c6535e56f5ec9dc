//! The body of a CompleteMultipartUpload: the parts list, read with quick-xml in S3's one
//! shape (the root, `Part` elements, text in their fields), so nothing nests deeper than three
//! levels, no DOCTYPE (and so no entity but XML's five) is read, and every refusal is
//! MalformedXML with its reason.

use std::borrow::Cow;

use quick_xml::encoding::EncodingError;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use hyper::StatusCode;
use presigner::MAX_PARTS;

use super::s3::{part_number, s3_err, S3Error};

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Debug, PartialEq, Eq)]
pub struct AskedPart {
    pub number: u32,
    pub etag: String,
    pub checksum_sha256: Option<String>,
}

/// S3's refusal of a body that is not a parts list, with the reason.
pub fn malformed_xml(why: &str) -> S3Error {
    s3_err(
        StatusCode::BAD_REQUEST,
        "MalformedXML",
        format!(
            "The XML you provided was not well-formed or did not validate against our \
             published schema ({why})."
        ),
    )
}

/// What [`Document::next`] finds in a parts list.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Open(String),
    Close,
    Text(String),
    End,
}

/// A CompleteMultipartUpload body read with quick-xml, which checks that it is well-formed:
/// names of end tags, attributes, references, comments. It never expands an entity but XML's
/// five and character references, as a DOCTYPE (the only way to declare one) is refused.
struct Document<'a> {
    reader: Reader<&'a [u8]>,
    /// An empty element (`<Part/>`) was read as an open: its close comes next.
    closing: bool,
}

impl<'a> Document<'a> {
    fn new(xml: &'a str) -> Document<'a> {
        Document {
            reader: Reader::from_str(xml),
            closing: false,
        }
    }

    /// The next element boundary or run of text; comments, processing instructions and the
    /// declaration are not content.
    fn next(&mut self) -> Result<Node, S3Error> {
        if std::mem::take(&mut self.closing) {
            return Ok(Node::Close);
        }
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = self.reader.error_position();
                    let why: String = e.to_string().chars().take(200).collect();
                    return Err(malformed_xml(&format!("at byte {at}: {why}")));
                }
            };
            return match event {
                Event::Start(e) => element(&e).map(Node::Open),
                Event::Empty(e) => {
                    self.closing = true;
                    element(&e).map(Node::Open)
                }
                Event::End(_) => Ok(Node::Close),
                Event::Text(t) => text(t.decode()),
                Event::CData(t) => text(t.decode()),
                Event::GeneralRef(r) => reference(&r).map(Node::Text),
                Event::DocType(_) => Err(malformed_xml("a DOCTYPE")),
                Event::Eof => Ok(Node::End),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
            };
        }
    }

    /// [`Document::next`] between elements, where whitespace is not content.
    fn next_node(&mut self) -> Result<Node, S3Error> {
        loop {
            match self.next()? {
                Node::Text(t) if t.trim_matches(XML_SPACE).is_empty() => continue,
                node => return Ok(node),
            }
        }
    }

    /// The text of the element just opened, up to its close.
    fn text(&mut self) -> Result<String, S3Error> {
        let mut text = String::new();
        loop {
            match self.next()? {
                Node::Text(t) => text.push_str(&t),
                Node::Close => return Ok(text),
                Node::Open(_) => return Err(malformed_xml("an element inside a Part's field")),
                Node::End => return Err(truncated()),
            }
        }
    }
}

fn truncated() -> S3Error {
    malformed_xml("the document ends before its root element is closed")
}

/// XML's whitespace characters.
const XML_SPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// An element's name, once its attributes are found well-formed.
fn element(e: &BytesStart<'_>) -> Result<String, S3Error> {
    if let Some(Err(why)) = e.attributes().find(Result::is_err) {
        return Err(malformed_xml(&format!("an attribute: {why}")));
    }
    Ok(String::from_utf8_lossy(e.name().as_ref()).into_owned())
}

fn text(decoded: Result<Cow<'_, str>, EncodingError>) -> Result<Node, S3Error> {
    decoded
        .map(|t| Node::Text(t.into_owned()))
        .map_err(|_| malformed_xml("not UTF-8"))
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and character references.
fn reference(r: &BytesRef<'_>) -> Result<String, S3Error> {
    let unknown = || malformed_xml("an unknown entity");
    let not_a_char = |_| malformed_xml("a character reference to no XML character");
    if let Some(c) = r.resolve_char_ref().map_err(not_a_char)? {
        return Ok(c.to_string());
    }
    let name = r.decode().map_err(|_| unknown())?;
    resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(unknown)
}

/// The parts a CompleteMultipartUpload body lists, in the order given. Only S3's shape is
/// taken: the root, `Part` elements in it, and in each part elements that hold text, so
/// nothing nests deeper than three elements.
pub fn parse_complete(xml: &str) -> Result<Vec<AskedPart>, S3Error> {
    let mut doc = Document::new(xml);
    if doc.next_node()? != Node::Open("CompleteMultipartUpload".into()) {
        return Err(malformed_xml(
            "the root element is not CompleteMultipartUpload",
        ));
    }
    let mut parts = Vec::new();
    loop {
        match doc.next_node()? {
            Node::Open(name) if name == "Part" => {}
            Node::Close => break,
            Node::End => return Err(truncated()),
            Node::Text(_) | Node::Open(_) => {
                return Err(malformed_xml(
                    "CompleteMultipartUpload holds only Part elements",
                ))
            }
        }
        if parts.len() >= MAX_PARTS as usize {
            return Err(malformed_xml("more than 10000 parts"));
        }
        let (mut number, mut etag, mut sha) = (None, None, None);
        loop {
            let name = match doc.next_node()? {
                Node::Close => break,
                Node::Open(name) => name,
                Node::End => return Err(truncated()),
                Node::Text(_) => return Err(malformed_xml("a Part holds only elements")),
            };
            let text = doc.text()?;
            match name.as_str() {
                "PartNumber" => number = Some(part_number(text.trim_matches(XML_SPACE))?),
                "ETag" => etag = Some(text),
                "ChecksumSHA256" => sha = Some(text.trim_matches(XML_SPACE).to_string()),
                _ => {}
            }
        }
        let (Some(number), Some(etag)) = (number, etag) else {
            return Err(malformed_xml("a Part without PartNumber or ETag"));
        };
        parts.push(AskedPart {
            number,
            etag,
            checksum_sha256: sha,
        });
    }
    if doc.next_node()? != Node::End {
        return Err(malformed_xml("content after the root element"));
    }
    Ok(parts)
}
