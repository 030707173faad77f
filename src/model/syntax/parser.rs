//! The KDL v2 node grammar over the lexer's tokens, without recursion: open children blocks
//! live on an explicit stack of frames, capped at [`MAX_DEPTH`], so no input can overflow the
//! call stack (the model's own walks over the tree recurse, and the cap bounds them too).
//! After an error the parser skips to the end of the node's line (or its `}`) and goes on,
//! so one run reports every independent mistake.

use super::error::SyntaxError;
use super::lexer::{span, Cursor, Fail, Lex};
use super::tree::{Document, Entry, Ident, Node, Value};

/// The deepest nesting of `{` blocks accepted.
pub const MAX_DEPTH: usize = 128;

/// Where a node is in its grammar: entries, then slashdashed children blocks, then at most
/// one children block, then more slashdashed children blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Entries,
    SlashdashedChildren,
    Children,
}

/// A node being read, with the children block it may be waiting for.
struct Pending {
    node: Node,
    start: usize,
    end: usize,
    discard: bool,
    phase: Phase,
    /// The real children block just closed: a `/-` may follow it without a space.
    glue_ok: bool,
}

/// An open `{`: where the nodes read inside it begin on the node stack, and the node it
/// belongs to.
struct Frame {
    /// Where the block's nodes begin on the shared node stack.
    first: usize,
    open: usize,
    owner: Pending,
    /// A slashdashed block (`/- { ... }`): read, checked, dropped.
    discard: bool,
}

/// What the rest of a node's line held.
enum Tail {
    /// The node ended (at a terminator, a `}` or the end).
    Done,
    /// A `{` opens a children block at the cursor.
    Open { discard: bool },
}

pub(super) fn parse(text: &str) -> Result<Document, SyntaxError> {
    let mut p = Cursor::new(text);
    if p.starts_with(0, "\u{FEFF}") {
        p.pos = 3;
    }
    let nodes = nodes(&mut p);
    if p.errors.is_empty() {
        Ok(Document {
            nodes,
            span: span(0, text.len()),
        })
    } else {
        Err(SyntaxError {
            diagnostics: p.errors,
        })
    }
}

/// The whole document: a loop over node starts and `}`s, with the open blocks on `frames`.
fn nodes(p: &mut Cursor<'_>) -> Vec<Node> {
    // Every finished node waits on one stack, the top level's first, then each open block's;
    // a closing `}` moves its block's nodes off in one exact allocation. (A vector per block,
    // grown node by node, was the parser's most frequent reallocation.)
    let mut stack: Vec<Node> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    // Whether reading stopped early (an error that swallowed the rest, or too many errors).
    let mut stopped = false;
    loop {
        if p.line_space().is_err() {
            stopped = true;
            break;
        }
        let pending = match p.byte() {
            None => break,
            Some(b'}') => {
                let Some(frame) = frames.pop() else {
                    let at = p.pos;
                    p.fail(
                        at,
                        at + 1,
                        "unexpected `}`",
                        "no `{` is open here",
                        Some("remove it, or add the `{` it was meant to close"),
                    );
                    p.pos += 1;
                    continue;
                };
                p.pos += 1;
                let mut owner = frame.owner;
                owner.end = p.pos;
                if frame.discard {
                    stack.truncate(frame.first);
                    if owner.phase == Phase::Entries {
                        owner.phase = Phase::SlashdashedChildren;
                    }
                } else {
                    owner.node.children = Some(Document {
                        nodes: stack.drain(frame.first..).collect(),
                        span: span(frame.open, p.pos),
                    });
                    owner.phase = Phase::Children;
                }
                owner.glue_ok = !frame.discard;
                owner
            }
            Some(_) => match node_head(p) {
                Ok(pending) => pending,
                Err(fail) => {
                    if recover(p, fail) {
                        continue;
                    }
                    stopped = true;
                    break;
                }
            },
        };
        let mut pending = pending;
        match node_tail(p, &mut pending) {
            Ok(Tail::Done) => {
                if pending.discard && p.byte() == Some(b';') {
                    // The reference parser reads a slashdashed node as comment-like space,
                    // which `;` cannot end; refuse it too, so both accept the same files.
                    let at = p.pos;
                    let fail = p.fail(
                        at,
                        at + 1,
                        "a slashdashed node cannot end with `;`",
                        "`;` after a node commented out with `/-`",
                        Some("end the commented-out node with a newline instead"),
                    );
                    if recover(p, fail) {
                        continue;
                    }
                    stopped = true;
                    break;
                }
                p.node_terminator();
                if !pending.discard {
                    pending.node.span = span(pending.start, pending.end);
                    stack.push(pending.node);
                }
            }
            Ok(Tail::Open { discard }) => {
                let open = p.pos;
                if frames.len() >= MAX_DEPTH {
                    p.fatal(
                        open,
                        open + 1,
                        "children blocks nested too deeply",
                        &format!("this `{{` is nested more than {MAX_DEPTH} blocks deep"),
                        Some("flatten the structure; stacks.kdl never needs this much nesting"),
                    );
                    stopped = true;
                    break;
                }
                p.pos += 1;
                frames.push(Frame {
                    first: stack.len(),
                    open,
                    owner: pending,
                    discard,
                });
            }
            Err(fail) => {
                if !recover(p, fail) {
                    stopped = true;
                    break;
                }
            }
        }
    }
    // Only the innermost unclosed block is reported: the outer ones are unclosed because of it.
    if let Some(frame) = frames.last() {
        if !stopped {
            let open = frame.open;
            let end = p.bytes.len();
            p.fail(
                open,
                open + 1,
                "unclosed children block",
                "this `{` is never closed",
                Some(if end > open + 1 {
                    "add the `}` that closes it"
                } else {
                    "add a `}`"
                }),
            );
        }
    }
    // The nodes of unclosed blocks are dropped, as their blocks are.
    if let Some(outermost) = frames.first() {
        stack.truncate(outermost.first);
    }
    // An exact allocation: the stack's spare room is not kept for the life of the tree.
    let mut top = Vec::with_capacity(stack.len());
    top.append(&mut stack);
    top
}

/// After an error: skips to the end of the broken node (its line or `;`, with any `{...}` on
/// the way), leaving a `}` that closes an enclosing block. False when nothing more can be read.
fn recover(p: &mut Cursor<'_>, fail: Fail) -> bool {
    if fail.fatal {
        return false;
    }
    let mut depth = 0usize;
    while let Some(b) = p.byte() {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return true,
            b'}' => depth -= 1,
            b';' if depth == 0 => {
                p.pos += 1;
                return true;
            }
            _ => {
                let n = p.newline_len(p.pos);
                if n > 0 && depth == 0 {
                    p.pos += n;
                    return true;
                }
            }
        }
        p.pos += 1;
        // Stay on character boundaries (multi-byte characters are skipped byte by byte).
        while p.pos < p.bytes.len() && !p.text.is_char_boundary(p.pos) {
            p.pos += 1;
        }
    }
    true
}

/// `slashdash? type? node-space* string`: a node's start, up to its name.
fn node_head(p: &mut Cursor<'_>) -> Lex<Pending> {
    let mut discard = false;
    if p.byte() == Some(b'/') && p.byte_at(1) == Some(b'-') {
        let at = p.pos;
        p.pos += 2;
        p.line_space()?;
        discard = true;
        if p.at_end() || p.byte() == Some(b'}') {
            return Err(p.fail(
                at,
                at + 2,
                "slashdash without a node",
                "`/-` comments out the next node, and there is none",
                Some("remove the `/-`"),
            ));
        }
    }
    let start = p.pos;
    let ty = if p.byte() == Some(b'(') {
        let ty = annotation(p)?;
        p.node_space()?;
        Some(Box::new(ty))
    } else {
        None
    };
    if !p.at_string() {
        let at = p.pos;
        let end = p.char_end(at).max(at + 1).min(p.bytes.len().max(at));
        if let Some(c) = p.peek().filter(|&c| super::chars::is_disallowed(c)) {
            return Err(p.disallowed(at, c));
        }
        return Err(match p.byte() {
            Some(b'{') => p.fail(
                at,
                at + 1,
                "found a children block instead of a node name",
                "node name expected",
                Some("did you forget the node's name, or end the node (`;`, newline) before its block?"),
            ),
            Some(b';') => p.fail(
                at,
                at + 1,
                "unexpected `;`",
                "no node to end here",
                Some("`;` ends a node; remove the extra one"),
            ),
            _ => p.fail(
                at,
                end,
                "invalid node name",
                "node name expected",
                Some("a node name is a string: a plain identifier, a quoted, raw or multi-line string"),
            ),
        });
    }
    let (name, name_span) = p.string()?;
    Ok(Pending {
        node: Node {
            ty,
            name: Ident {
                value: name,
                span: name_span,
            },
            entries: Vec::new(),
            children: None,
            span: span(start, p.pos),
        },
        start,
        end: p.pos,
        discard,
        phase: Phase::Entries,
        glue_ok: false,
    })
}

/// The rest of a node after its name (or after one of its blocks closed): entries and
/// slashdashed entries, then children blocks, up to its end or the next `{`.
fn node_tail(p: &mut Cursor<'_>, n: &mut Pending) -> Lex<Tail> {
    // Slashdashes in a row (`/- /- 1 2`) each comment out one more entry, as in the reference
    // parser (where the second `/-` is part of the entry the first one comments out).
    let mut skip = 0usize;
    let mut skip_at = 0usize;
    let mut chained = false;
    loop {
        let glue_ok = std::mem::take(&mut n.glue_ok);
        let spaced = p.node_space()? || skip > 0;
        if p.at_node_end() {
            if skip > 0 {
                return Err(dangling_slashdash(p, skip_at));
            }
            return Ok(Tail::Done);
        }
        let at = p.pos;
        match p.byte() {
            Some(b'{') => {
                // `/- /- 1 {}`: a chain of slashdashes comments out entries only.
                if skip > 1 || (skip == 1 && chained) {
                    return Err(dangling_slashdash(p, skip_at));
                }
                if skip == 0 && n.phase == Phase::Children {
                    return Err(p.fail(
                        at,
                        at + 1,
                        "a node has at most one children block",
                        "a second children block",
                        Some("merge the two blocks, or end the node with `;` or a newline before this one"),
                    ));
                }
                return Ok(Tail::Open { discard: skip == 1 });
            }
            Some(b'/') if p.byte_at(1) == Some(b'-') => {
                if !spaced && !glue_ok {
                    return Err(p.fail(
                        at,
                        at + 2,
                        "expected whitespace before `/-`",
                        "glued to what comes before",
                        None,
                    ));
                }
                p.pos += 2;
                p.line_space()?;
                if skip == 0 {
                    skip_at = at;
                }
                chained = skip > 0;
                skip += 1;
            }
            Some(b'=') => {
                return Err(p.fail(
                    at,
                    at + 1,
                    "unexpected `=`",
                    "no property name before it",
                    Some("a property is a string, `=`, then a value: `key=1`, `\"my key\"=1`"),
                ));
            }
            _ => {
                entry_after_blocks(p, n, if skip > 0 { skip_at } else { at })?;
                if !spaced {
                    let end = p.char_end(at);
                    return Err(p.fail(
                        at,
                        end,
                        "expected whitespace before an entry",
                        "glued to what comes before",
                        Some("entries are separated by whitespace"),
                    ));
                }
                let e = entry(p)?;
                if skip > 0 {
                    skip -= 1;
                    chained &= skip > 0;
                } else {
                    n.end = p.pos;
                    n.node.entries.push(e);
                }
            }
        }
    }
}

fn dangling_slashdash(p: &mut Cursor<'_>, at: usize) -> Fail {
    p.fail(
        at,
        at + 2,
        "slashdash without anything after it",
        "`/-` comments out the next entry or block, and there is none",
        Some("remove the `/-`"),
    )
}

/// Refuses an entry once a children block (even a slashdashed one) has been seen.
fn entry_after_blocks(p: &mut Cursor<'_>, n: &Pending, at: usize) -> Lex<()> {
    if n.phase == Phase::Entries {
        return Ok(());
    }
    let end = p.char_end(at);
    Err(p.fail(
        at,
        end,
        "entries must come before a children block",
        "an entry after `{...}`",
        Some("move the argument or property before the `{`, or end the node first"),
    ))
}

/// `(type)` at the cursor's `(`.
fn annotation(p: &mut Cursor<'_>) -> Lex<Ident> {
    let open = p.pos;
    p.pos += 1;
    p.node_space()?;
    if !p.at_string() {
        let at = p.pos;
        let end = p.char_end(at).max(at + 1).min(p.bytes.len().max(at));
        return Err(p.fail(
            at,
            end,
            "invalid type annotation",
            "expected a type name",
            Some("a type annotation is a string in parentheses: `(u8)`, `(\"my type\")`"),
        ));
    }
    let (value, name_span) = p.string()?;
    p.node_space()?;
    if p.byte() != Some(b')') {
        let at = p.pos;
        return Err(p.fail(
            open,
            at.max(open + 1),
            "unclosed type annotation",
            "expected `)` after the type name",
            None,
        ));
    }
    p.pos += 1;
    Ok(Ident {
        value,
        span: name_span,
    })
}

/// `prop | value`: one argument or property at the cursor.
fn entry(p: &mut Cursor<'_>) -> Lex<Entry> {
    let start = p.pos;
    if p.byte() == Some(b'(') {
        let ty = annotation(p)?;
        p.node_space()?;
        let value = value(p, start)?;
        return Ok(Entry {
            name: None,
            ty: Some(Box::new(ty)),
            value,
            span: span(start, p.pos),
        });
    }
    if !p.at_string() {
        let value = p.non_string_value()?;
        return Ok(Entry {
            name: None,
            ty: None,
            value,
            span: span(start, p.pos),
        });
    }
    let (s, s_span) = p.string()?;
    let after = p.pos;
    p.node_space()?;
    if p.byte() != Some(b'=') {
        p.pos = after;
        return Ok(Entry {
            name: None,
            ty: None,
            value: Value::String(s),
            span: s_span,
        });
    }
    let eq = p.pos;
    p.pos += 1;
    p.node_space()?;
    let ty = if p.byte() == Some(b'(') {
        let ty = annotation(p)?;
        p.node_space()?;
        Some(Box::new(ty))
    } else {
        None
    };
    let value = value(p, eq)?;
    Ok(Entry {
        name: Some(Ident {
            value: s,
            span: s_span,
        }),
        ty,
        value,
        span: span(start, p.pos),
    })
}

/// A value at the cursor (after its annotation, if any); `from` is where the entry began.
fn value(p: &mut Cursor<'_>, from: usize) -> Lex<Value> {
    if p.at_node_end() || matches!(p.byte(), Some(b'{' | b'=' | b')')) {
        let at = p.pos;
        let what = if p.bytes.get(from) == Some(&b'=') {
            "expected a value after `=`"
        } else {
            "expected a value after the type annotation"
        };
        return Err(p.fail(
            from,
            (at).max(from + 1),
            what,
            "value expected",
            Some("a value is a string, a number, #true, #false, #null, #inf, #-inf or #nan"),
        ));
    }
    if p.at_string() {
        return Ok(Value::String(p.string()?.0));
    }
    p.non_string_value()
}
