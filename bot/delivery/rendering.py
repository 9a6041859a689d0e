"""Platform-neutral messages and the renderers that make them from outbox rows.

An outbox row stores a `kind` and plain `params` (ids, codes, names), never
text: the text is made when the row is sent, in the recipient's language of
that moment, by the renderer registered for the kind. A renderer returns a
`Rendered`, which every transport (Telegram today, Zalo later) knows how to
deliver; nothing here knows about any platform.

Registering, at import time of the module that enqueues the kind:

    from bot.delivery.rendering import RENDERERS, Rendered

    @RENDERERS.renderer("report.received")
    def _received(params: dict, _: Translator) -> Rendered:
        return Rendered(_("Your report {code} was received.", code=params["code"]))

Files travel as media-store keys in the params (plain JSON) and become
`photo_keys` (display copies) or `documents` (`Attachment(key, filename)`,
with keys from `MediaStore.put(data, kind=MediaKind.EVIDENCE, suffix=".pdf")`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import Translator


@dataclass(frozen=True)
class Button:
    """An inline button: either a callback (`callback_data`) or a link (`url`)."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.callback_data is None) == (self.url is None):
            raise ValueError(f"button {self.text!r} needs exactly one of callback_data and url")


# What file systems and messengers commonly accept for a name.
FILENAME_MAX_CHARS = 255


@dataclass(frozen=True)
class Attachment:
    """A file sent as a document: a media-store key and the name the recipient sees.

    The key names the content (the store is content-addressed, so it carries
    no meaningful name); `filename` is what the recipient saves it as, e.g.
    "bien-ban-kiem-tra.pdf".
    """

    key: str
    filename: str

    def __post_init__(self) -> None:
        if not self.filename.strip() or len(self.filename) > FILENAME_MAX_CHARS:
            raise ValueError(f"an attachment needs a file name of 1 to {FILENAME_MAX_CHARS} characters")
        # The name ends up in a multipart header and on the recipient's disk.
        if any(char in self.filename for char in "/\\") or not self.filename.isprintable():
            raise ValueError(f"not a plain file name: {self.filename!r}")


@dataclass(frozen=True)
class Rendered:
    """What one outbox row says: text, inline buttons (rows of them), photos, documents.

    `photo_keys` are media-store keys of display copies (never originals: they
    carry the citizen's GPS). `documents` are files sent as they are (scans of
    inspection records, reply letters), after the photos and before the text.
    An edit changes only the text and the buttons of the message the row it
    edits produced; photos and documents cannot be edited in place.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo_keys: tuple[str, ...] = field(default=())
    documents: tuple[Attachment, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a rendered message needs text")
        # A renderer building this from JSON params could easily pass dicts.
        for document in self.documents:
            if not isinstance(document, Attachment):
                raise TypeError(f"documents hold Attachment values, not {type(document).__name__}")


Renderer = Callable[[Mapping[str, Any], Translator], Rendered]


class UnknownKind(LookupError):
    """No renderer for this kind: a row enqueued by newer code or a typo; it is marked failed."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"no renderer registered for outbox kind {kind!r}")
        self.kind = kind


class Renderers:
    """Renderers by kind. The application uses `RENDERERS`; tests build their own."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Renderer] = {}

    def register(self, kind: str, renderer: Renderer) -> Renderer:
        # Two modules claiming one kind would make the text depend on import order.
        if kind in self._by_kind and self._by_kind[kind] is not renderer:
            raise ValueError(f"a renderer for {kind!r} is already registered")
        self._by_kind[kind] = renderer
        return renderer

    def renderer(self, kind: str) -> Callable[[Renderer], Renderer]:
        """Decorator form of `register`."""

        def decorate(renderer: Renderer) -> Renderer:
            return self.register(kind, renderer)

        return decorate

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def render(self, kind: str, params: Mapping[str, Any], translator: Translator) -> Rendered:
        renderer = self._by_kind.get(kind)
        if renderer is None:
            raise UnknownKind(kind)
        rendered = renderer(params, translator)
        if not isinstance(rendered, Rendered):
            raise TypeError(f"the renderer for {kind!r} returned {type(rendered).__name__}, not Rendered")
        return rendered


# The application's registry: modules that enqueue a kind register its renderer here.
RENDERERS = Renderers()
