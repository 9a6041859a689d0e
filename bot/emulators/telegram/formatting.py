"""Message formatting: parse modes, entities and text limits.

Telegram turns `parse_mode` markup into plain text plus entities before it
stores a message, and rejects malformed markup with "can't parse entities".
We do the same, because the bug it catches is real and common: a citizen's
name containing "<" or "." interpolated into an HTML or MarkdownV2 template.
Entity offsets and lengths count UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request, cant_parse_entities

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

Entity = dict[str, Any]


def utf16_len(text: str) -> int:
    # Only characters outside the BMP (most emoji) take two UTF-16 units.
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def parse_formatted(text: str, parse_mode: str | None, explicit_entities: object | None) -> tuple[str, list[Entity]]:
    """Apply `parse_mode` (or take explicit `entities`) to `text`."""
    if explicit_entities is not None:
        return text, _checked_entities(explicit_entities)
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request("unsupported parse_mode")


def check_message_text(text: str) -> None:
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")


def check_caption(caption: str) -> None:
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")


_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


def command_entities(text: str) -> list[Entity]:
    """The bot_command entities Telegram attaches to a user's message."""
    if "/" not in text:
        return []
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def _checked_entities(value: object) -> list[Entity]:
    if not isinstance(value, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("type"), str)
        and isinstance(item.get("offset"), int)
        and isinstance(item.get("length"), int)
        for item in value
    ):
        raise bad_request("can't parse entities JSON object")
    return [dict(item) for item in value]


@dataclass
class _Builder:
    """Accumulates plain text and the entities found while parsing markup."""

    source: str
    parts: list[str] = field(default_factory=list)
    offset: int = 0
    entities: list[Entity] = field(default_factory=list)

    def emit(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.offset += utf16_len(chunk)

    def close(self, entity_type: str, start: int, extra: dict[str, Any]) -> None:
        length = self.offset - start
        if length > 0:  # Telegram silently drops empty entities
            self.entities.append({"type": entity_type, "offset": start, "length": length, **extra})

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def result(self) -> tuple[str, list[Entity]]:
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.parts), self.entities


@dataclass
class _Open:
    """An entity whose start marker has been seen but not its end."""

    name: str
    entity_type: str | None
    start: int
    index: int
    extra: dict[str, Any] = field(default_factory=dict)


# --- HTML --------------------------------------------------------------------

_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTRIBUTE = re.compile(r"""([A-Za-z_][\w-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}


def parse_html(text: str) -> tuple[str, list[Entity]]:
    if "<" not in text and "&" not in text:
        return text, []
    builder = _Builder(text)
    stack: list[_Open] = []
    index = 0
    while index < len(text):
        match = _HTML_SPECIAL.search(text, index)
        if match is None:
            builder.emit(text[index:])
            break
        builder.emit(text[index : match.start()])
        index = match.start()
        if text[index] == "&":
            index = _html_entity(text, index, builder)
            continue
        end = text.find(">", index)
        if end < 0:
            raise cant_parse_entities(f"Unclosed start tag at byte offset {builder.byte_offset(index)}")
        body = text[index + 1 : end]
        if body.startswith("/"):
            _html_close(body[1:].strip().lower(), index, builder, stack)
        else:
            stack.append(_html_open(body, index, builder, stack))
        index = end + 1
    if stack:
        raise cant_parse_entities(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return builder.result()


def _html_entity(text: str, index: int, builder: _Builder) -> int:
    match = _HTML_ENTITY.match(text, index)
    if match is None:
        builder.emit("&")
        return index + 1
    decimal, hexadecimal, named = match.groups()
    if named:
        builder.emit(_NAMED_ENTITIES[named])
        return match.end()
    code_point = int(decimal) if decimal else int(hexadecimal, 16)
    if 0 < code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF:
        builder.emit(chr(code_point))
    else:
        builder.emit(match.group())
    return match.end()


def _html_open(body: str, index: int, builder: _Builder, stack: list[_Open]) -> _Open:
    name, _, rest = body.strip().partition(" ")
    name = name.lower()
    attributes = {
        match.group(1).lower(): match.group(2) or match.group(3) or match.group(4) or ""
        for match in _HTML_ATTRIBUTE.finditer(rest)
    }
    start = builder.offset
    if name == "code" and stack and stack[-1].name == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        language = attributes.get("class", "")
        if language.startswith("language-"):
            stack[-1].extra["language"] = language[len("language-") :]
        return _Open(name, None, start, index)
    if name in _HTML_SIMPLE_TAGS:
        return _Open(name, _HTML_SIMPLE_TAGS[name], start, index)
    if name == "span":
        if attributes.get("class") != "tg-spoiler":
            raise cant_parse_entities(
                f'Tag "span" must have class "tg-spoiler" at byte offset {builder.byte_offset(index)}'
            )
        return _Open(name, "spoiler", start, index)
    if name == "a":
        href = attributes.get("href")
        if not href:
            return _Open(name, None, start, index)
        return _Open(name, "text_link", start, index, {"url": href})
    if name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attributes else "blockquote"
        return _Open(name, kind, start, index)
    if name == "tg-emoji":
        return _Open(name, "custom_emoji", start, index, {"custom_emoji_id": attributes.get("emoji-id", "")})
    raise cant_parse_entities(f'Unsupported start tag "{name}" at byte offset {builder.byte_offset(index)}')


def _html_close(name: str, index: int, builder: _Builder, stack: list[_Open]) -> None:
    if not stack:
        raise cant_parse_entities(f"Unexpected end tag at byte offset {builder.byte_offset(index)}")
    top = stack.pop()
    if top.name != name:
        raise cant_parse_entities(
            f"Unmatched end tag at byte offset {builder.byte_offset(index)}, "
            f'expected "</{top.name}>", found "</{name}>"'
        )
    if top.entity_type is not None:
        builder.close(top.entity_type, top.start, top.extra)


# --- MarkdownV2 --------------------------------------------------------------

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_PLAIN = re.compile(r"[^_*\[\]()~`>#+\-=|{}.!\\\n]+")
_MDV2_CODE_SPECIAL = re.compile(r"[`\\]")
_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_MDV2_TOGGLES = (("__", "underline"), ("||", "spoiler"), ("*", "bold"), ("_", "italic"), ("~", "strikethrough"))


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    builder = _Builder(text)
    stack: list[_Open] = []
    index = 0
    while index < len(text):
        if stack and stack[-1].entity_type in ("code", "pre"):
            index = _mdv2_code(text, index, builder, stack)
            continue
        plain = _MDV2_PLAIN.match(text, index)
        if plain:
            builder.emit(plain.group())
            index = plain.end()
            continue
        index = _mdv2_special(text, index, builder, stack)
    if stack and stack[-1].entity_type == "blockquote":
        top = stack.pop()
        builder.close("blockquote", top.start, top.extra)
    if stack:
        top = stack[-1]
        raise cant_parse_entities(
            f"Can't find end of {_ENTITY_NAMES.get(top.entity_type or '', top.name)} entity "
            f"at byte offset {builder.byte_offset(top.index)}"
        )
    return builder.result()


def _mdv2_special(text: str, index: int, builder: _Builder, stack: list[_Open]) -> int:
    char = text[index]
    if char == "\\":
        if index + 1 < len(text) and 0 < ord(text[index + 1]) <= 126:
            builder.emit(text[index + 1])
            return index + 2
        builder.emit("\\")
        return index + 1
    if char == "\n":
        if stack and stack[-1].entity_type == "blockquote" and not text.startswith(">", index + 1):
            top = stack.pop()
            builder.close("blockquote", top.start, top.extra)
        builder.emit("\n")
        return index + 1
    if char == ">" and (index == 0 or text[index - 1] == "\n"):
        if not any(item.entity_type == "blockquote" for item in stack):
            stack.append(_Open(">", "blockquote", builder.offset, index))
        return index + 1
    if char == "`":
        return _mdv2_open_code(text, index, builder, stack)
    if char == "[" or text.startswith("![", index):
        width = 1 if char == "[" else 2
        kind = "text_link" if char == "[" else "custom_emoji"
        stack.append(_Open(text[index : index + width], kind, builder.offset, index))
        return index + width
    if char == "]" and stack and stack[-1].entity_type in ("text_link", "custom_emoji"):
        return _mdv2_close_link(text, index, builder, stack)
    for marker, entity_type in _MDV2_TOGGLES:
        if text.startswith(marker, index):
            _mdv2_toggle(marker, entity_type, index, builder, stack)
            return index + len(marker)
    raise cant_parse_entities(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")


def _mdv2_toggle(marker: str, entity_type: str, index: int, builder: _Builder, stack: list[_Open]) -> None:
    open_index = next((position for position, item in enumerate(stack) if item.entity_type == entity_type), None)
    if open_index is None:
        stack.append(_Open(marker, entity_type, builder.offset, index))
        return
    if open_index != len(stack) - 1:
        inner = stack[-1]
        raise cant_parse_entities(
            f"Can't find end of {_ENTITY_NAMES.get(inner.entity_type or '', inner.name)} entity "
            f"at byte offset {builder.byte_offset(inner.index)}"
        )
    top = stack.pop()
    builder.close(entity_type, top.start, top.extra)


def _mdv2_open_code(text: str, index: int, builder: _Builder, stack: list[_Open]) -> int:
    if not text.startswith("```", index):
        stack.append(_Open("`", "code", builder.offset, index))
        return index + 1
    after = index + 3
    newline = text.find("\n", after)
    extra: dict[str, Any] = {}
    if newline >= 0:
        first_line = text[after:newline]
        if first_line and not any(ch.isspace() for ch in first_line) and "`" not in first_line:
            extra["language"] = first_line
            after = newline + 1
        elif not first_line:
            after = newline + 1
    stack.append(_Open("```", "pre", builder.offset, index, extra))
    return after


def _mdv2_code(text: str, index: int, builder: _Builder, stack: list[_Open]) -> int:
    """Inside code/pre only '`' and '\\' are special."""
    match = _MDV2_CODE_SPECIAL.search(text, index)
    if match is None:
        builder.emit(text[index:])
        return len(text)
    builder.emit(text[index : match.start()])
    index = match.start()
    if text[index] == "\\":
        if index + 1 < len(text):
            builder.emit(text[index + 1])
            return index + 2
        builder.emit("\\")
        return index + 1
    top = stack[-1]
    marker = "```" if top.entity_type == "pre" else "`"
    if not text.startswith(marker, index):
        raise cant_parse_entities(f"Can't find end of Pre entity at byte offset {builder.byte_offset(top.index)}")
    stack.pop()
    builder.close(top.entity_type or "code", top.start, top.extra)
    return index + len(marker)


def _mdv2_close_link(text: str, index: int, builder: _Builder, stack: list[_Open]) -> int:
    top = stack.pop()
    if not text.startswith("(", index + 1):
        raise cant_parse_entities(
            f"Can't find end of {_ENTITY_NAMES[top.entity_type or 'text_link']} entity "
            f"at byte offset {builder.byte_offset(top.index)}"
        )
    url_chars: list[str] = []
    position = index + 2
    while position < len(text) and text[position] != ")":
        if text[position] == "\\" and position + 1 < len(text):
            position += 1
        url_chars.append(text[position])
        position += 1
    if position >= len(text):
        raise cant_parse_entities(f"Can't find end of a url at byte offset {builder.byte_offset(index + 1)}")
    url = "".join(url_chars)
    if top.entity_type == "custom_emoji":
        builder.close("custom_emoji", top.start, {"custom_emoji_id": url.rpartition("id=")[2]})
    else:
        builder.close("text_link", top.start, {"url": url})
    return position + 1


# --- legacy Markdown ---------------------------------------------------------

_MD_SPECIAL = re.compile(r"[*_`\[\\]")
_MD_MARKERS = {"*": "bold", "_": "italic", "`": "code"}


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: no nesting, and only _ * ` [ can be escaped."""
    builder = _Builder(text)
    index = 0
    while index < len(text):
        match = _MD_SPECIAL.search(text, index)
        if match is None:
            builder.emit(text[index:])
            break
        builder.emit(text[index : match.start()])
        index = match.start()
        char = text[index]
        if char == "\\":
            if text[index + 1 : index + 2] in ("*", "_", "`", "["):
                builder.emit(text[index + 1])
                index += 2
            else:
                builder.emit("\\")
                index += 1
        elif char == "[":
            index = _md_link(text, index, builder)
        elif text.startswith("```", index):
            index = _md_span(text, index, "```", "pre", builder)
        else:
            index = _md_span(text, index, char, _MD_MARKERS[char], builder)
    return builder.result()


def _md_unclosed(builder: _Builder, index: int) -> ApiError:
    return cant_parse_entities(f"Can't find end of the entity starting at byte offset {builder.byte_offset(index)}")


def _md_span(text: str, index: int, marker: str, entity_type: str, builder: _Builder) -> int:
    end = text.find(marker, index + len(marker))
    if end < 0:
        raise _md_unclosed(builder, index)
    start = builder.offset
    builder.emit(text[index + len(marker) : end])
    builder.close(entity_type, start, {})
    return end + len(marker)


def _md_link(text: str, index: int, builder: _Builder) -> int:
    label_end = text.find("]", index + 1)
    if label_end < 0:
        raise _md_unclosed(builder, index)
    if not text.startswith("(", label_end + 1):
        builder.emit(text[index + 1 : label_end])
        return label_end + 1
    url_end = text.find(")", label_end + 2)
    if url_end < 0:
        raise _md_unclosed(builder, index)
    start = builder.offset
    builder.emit(text[index + 1 : label_end])
    builder.close("text_link", start, {"url": text[label_end + 2 : url_end]})
    return url_end + 1
