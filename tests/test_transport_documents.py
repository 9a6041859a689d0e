"""Documents in outbox messages: photos, then documents, then the text, through the Bot API emulator."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.delivery import outbox
from bot.delivery.rendering import Attachment, Button, Rendered, Renderers
from bot.delivery.sender import Rejected, RejectReason, RetryLater, Sender, SenderConfig
from bot.emulators.telegram import BotApiEmulator, MessageView
from bot.i18n import Translator
from bot.platforms.telegram import transport as telegram_transport
from bot.platforms.telegram.transport import TelegramTransport
from storage.media import InvalidMediaKey, MediaKind, MediaStore
from storage.models import OutboxMessage, OutboxStatus

Sessions = async_sessionmaker[AsyncSession]

PDF = b"%PDF-1.4\n% bien ban kiem tra\n%%EOF\n"


def jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def pdf(n: int) -> bytes:
    return PDF + f"% page {n}\n".encode()


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    # As the application's sender: uploads through aiohttp.
    request = telegram_transport.AiohttpRequest(8)
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url, request=request) as b:
        yield b


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest.fixture
def transport(bot: Bot, media: MediaStore) -> TelegramTransport:
    return TelegramTransport(bot, media)


def photos(media: MediaStore, count: int) -> tuple[str, ...]:
    return tuple(media.put(jpeg((30 * i, 100, 160)), kind=MediaKind.DISPLAY, suffix=".jpg") for i in range(count))


def documents(media: MediaStore, count: int) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(media.put(pdf(i), kind=MediaKind.EVIDENCE, suffix=".pdf"), f"bien-ban-{i}.pdf") for i in range(count)
    )


OPEN = ((Button("Xem phản ánh", callback_data="report:open"),),)


def sent_document(emu: BotApiEmulator, message: MessageView) -> tuple[str, bytes]:
    document = message.document
    assert document is not None, message.summary()
    return document["file_name"], emu.file_bytes(document["file_id"])


# --- the shape of what arrives -----------------------------------------------------------


async def test_photos_then_documents_then_the_text(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    lan = emu.add_user("Lan")
    rendered = Rendered(
        "Kết quả xử lý phản ánh PA-7", buttons=OPEN, photo_keys=photos(media, 2), documents=documents(media, 2)
    )
    assert transport.weight(rendered) == 5

    message_id = await transport.send(str(lan.id), rendered)

    messages = emu.private_chat(lan).bot_messages
    assert [("photo" if m.photo else "document" if m.document else "text") for m in messages] == [
        "photo",
        "photo",
        "document",
        "document",
        "text",
    ]
    photo_album, document_album = {m.media_group_id for m in messages[:2]}, {m.media_group_id for m in messages[2:4]}
    assert len(photo_album) == len(document_album) == 1 and photo_album != document_album
    assert [sent_document(emu, m) for m in messages[2:4]] == [("bien-ban-0.pdf", pdf(0)), ("bien-ban-1.pdf", pdf(1))]
    assert messages[2].document is not None and messages[2].document["mime_type"] == "application/pdf"
    text = messages[4]
    assert text.text == "Kết quả xử lý phản ánh PA-7" and text.buttons == ["Xem phản ánh"]
    assert message_id == str(text.message_id)
    assert emu.api_errors == []


async def test_a_lone_photo_and_a_lone_document_go_separately(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    lan = emu.add_user("Lan")
    # Vietnamese names travel intact in the upload's header.
    [attachment] = documents(media, 1)
    letter = Attachment(attachment.key, "Công văn trả lời số 12.pdf")
    rendered = Rendered("Văn bản trả lời", buttons=OPEN, photo_keys=photos(media, 1), documents=(letter,))
    # One photo would carry the text as its caption; with a document it cannot.
    assert transport.weight(rendered) == 3

    message_id = await transport.send(str(lan.id), rendered)

    photo, document, text = emu.private_chat(lan).bot_messages
    assert photo.photo and photo.caption is None and photo.media_group_id is None
    assert sent_document(emu, document) == ("Công văn trả lời số 12.pdf", pdf(0))
    assert document.media_group_id is None and document.caption is None
    assert text.text == "Văn bản trả lời" and text.has_inline_keyboard
    assert message_id == str(text.message_id)


async def test_documents_only_and_more_than_an_album_holds(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    lan, binh = emu.add_user("Lan"), emu.add_user("Bình")
    one = Rendered("Biên bản kiểm tra", documents=documents(media, 1))
    assert transport.weight(one) == 2
    await transport.send(str(lan.id), one)
    document, text = emu.private_chat(lan).bot_messages
    assert sent_document(emu, document) == ("bien-ban-0.pdf", pdf(0)) and text.text == "Biên bản kiểm tra"

    many = Rendered("Hồ sơ đầy đủ", documents=documents(media, 11))
    assert transport.weight(many) == 12
    await transport.send(str(binh.id), many)
    messages = emu.private_chat(binh).bot_messages
    assert len(messages) == 12
    assert len({m.media_group_id for m in messages[:10]}) == 1 and messages[0].media_group_id
    assert messages[10].media_group_id is None
    assert [sent_document(emu, m)[0] for m in messages[:11]] == [f"bien-ban-{i}.pdf" for i in range(11)]
    assert messages[11].text == "Hồ sơ đầy đủ"


async def test_an_edit_changes_only_the_text_and_buttons(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    lan = emu.add_user("Lan")
    rendered = Rendered("Đang xử lý", buttons=OPEN, documents=documents(media, 1))
    message_id = await transport.send(str(lan.id), rendered)
    await transport.edit(str(lan.id), message_id, Rendered("Đã xử lý xong", documents=rendered.documents))
    document, text = emu.private_chat(lan).bot_messages
    assert text.text == "Đã xử lý xong" and not text.has_inline_keyboard
    assert sent_document(emu, document)[1] == pdf(0)
    assert emu.sent_to(lan) == 2


# --- failures ------------------------------------------------------------------------------


async def test_an_unreadable_document_fails_before_anything_is_sent(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    lan = emu.add_user("Lan")
    missing = Attachment("evidence/00/00/" + "0" * 64 + ".pdf", "gone.pdf")
    for bad in (missing, Attachment("../../etc/passwd", "passwd.pdf")):
        with pytest.raises(Rejected) as caught:
            await transport.send(str(lan.id), Rendered("x", photo_keys=photos(media, 2), documents=(bad,)))
        assert caught.value.reason is RejectReason.INVALID and not caught.value.partial
    # Larger than Telegram takes from a bot: refused before the upload, not by it.
    monkeypatch.setattr(telegram_transport, "DOCUMENT_MAX_BYTES", len(pdf(0)) - 1)
    with pytest.raises(Rejected, match="at most"):
        await transport.send(str(lan.id), Rendered("x", photo_keys=photos(media, 1), documents=documents(media, 1)))
    assert emu.sent_to(lan) == 0
    without_store = TelegramTransport(transport.bot)
    with pytest.raises(Rejected, match="no media store"):
        await without_store.send(str(lan.id), Rendered("x", documents=documents(media, 1)))


# PTB itself warns about RetryAfter.retry_after becoming a timedelta when it builds one.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_failure_after_the_photos_went_out_is_partial(
    emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    lan = emu.add_user("Lan")
    # Telegram's one message per second to a chat: the photo passes, the document does not.
    emu.set_rate_limit(per_chat_per_second=1)
    with pytest.raises(RetryLater) as caught:
        await transport.send(str(lan.id), Rendered("x", photo_keys=photos(media, 1), documents=documents(media, 1)))
    assert caught.value.partial
    assert [bool(m.photo) for m in emu.private_chat(lan).bot_messages] == [True]

    binh = emu.add_user("Bình")
    with pytest.raises(RetryLater) as caught:
        await transport.send(str(binh.id), Rendered("x", documents=documents(media, 1)))
    assert caught.value.partial  # the document went out, the text did not
    # Refused at the first part: a plain retry later, not an unknown outcome.
    emu.set_rate_limit(global_per_second=1)
    chi = emu.add_user("Chi")
    await transport.send(str(emu.add_user("Dũng").id), Rendered("uses up this second"))
    with pytest.raises(RetryLater) as caught:
        await transport.send(str(chi.id), Rendered("x", documents=documents(media, 1)))
    assert not caught.value.partial and emu.sent_to(chi) == 0


# --- from an outbox row ----------------------------------------------------------------------------


def _result(params: Mapping[str, Any], _: Translator) -> Rendered:
    return Rendered(
        str(params["text"]),
        photo_keys=tuple(params.get("photos", ())),
        documents=tuple(Attachment(d["key"], d["filename"]) for d in params.get("documents", ())),
    )


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_outbox_rows_carry_documents(
    sessions: Sessions, emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    registry = Renderers()
    registry.register("test.result", _result)
    evidence = [{"key": a.key, "filename": a.filename} for a in documents(media, 2)]
    lan, binh = emu.add_user("Lan"), emu.add_user("Bình")
    async with sessions.begin() as session:
        await outbox.enqueue(
            session,
            chat_id=str(lan.id),
            kind="test.result",
            params={"text": "Kết quả", "photos": list(photos(media, 1)), "documents": evidence},
        )
    sender = Sender(sessions, transport, registry, config=SenderConfig(poll_interval=0.02), worker="documents")
    assert await sender.drain_once() == 1
    assert [
        ("photo" if m.photo else "document" if m.document else "text") for m in emu.private_chat(lan).bot_messages
    ] == ["photo", "document", "document", "text"]

    # A failure part-way leaves the outcome unknown: recorded, never sent twice.
    emu.set_rate_limit(per_chat_per_second=1)
    async with sessions.begin() as session:
        await outbox.enqueue(
            session, chat_id=str(binh.id), kind="test.result", params={"text": "Kết quả", "documents": evidence[:1]}
        )
    await sender.drain_once()
    async with sessions() as session:
        stored = list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
    assert [r.status for r in stored] == [OutboxStatus.SENT, OutboxStatus.UNCONFIRMED]
    assert stored[0].platform_message_id == str(emu.private_chat(lan).bot_messages[-1].message_id)
    assert "part of the message went out" in (stored[1].last_error or "")
    assert emu.sent_to(binh) == 1


# --- each file uploaded once ------------------------------------------------------------------


async def test_a_broadcast_uploads_each_file_once(
    sessions: Sessions, emu: BotApiEmulator, transport: TelegramTransport, media: MediaStore
) -> None:
    registry = Renderers()
    registry.register("test.result", _result)
    poster, album, [notice] = photos(media, 1), photos(media, 4)[1:], documents(media, 1)
    with_caption = {"text": "Cảnh báo lũ", "photos": list(poster)}
    with_album = {
        "text": "Sơ tán",
        "photos": list(album),
        "documents": [{"key": notice.key, "filename": notice.filename}],
    }
    people = [emu.add_user(f"N{i}") for i in range(24)]
    async with sessions.begin() as session:
        for index, person in enumerate(people):
            await outbox.enqueue(
                session, chat_id=str(person.id), kind="test.result", params=with_album if index % 2 else with_caption
            )
    # Many sends at once: the first of them uploads, the others wait for its file_ids.
    config = SenderConfig(poll_interval=0.02, global_per_second=1000, concurrency=16)
    sender = Sender(sessions, transport, registry, config=config, worker="broadcast")
    assert await sender.drain_once() == len(people)

    assert emu.stats.uploads == 1 + 3 + 1
    for index, person in enumerate(people):
        got = emu.private_chat(person).bot_messages
        if index % 2:
            assert [("photo" if m.photo else "document" if m.document else "text") for m in got] == [
                "photo",
                "photo",
                "photo",
                "document",
                "text",
            ]
            assert sent_document(emu, got[3]) == (notice.filename, media.read(notice.key))
        else:
            [message] = got
            assert message.caption == "Cảnh báo lũ"
            assert emu.file_bytes(message.photo[-1]["file_id"]) == media.read(poster[0])

    # A file_id Telegram no longer takes is forgotten, and the file uploaded again.
    key = telegram_transport.FileKey(telegram_transport.PHOTO, poster[0])
    transport.file_ids.put(key, "AgACAgUAAxkBAAI-not-any-more")
    late = emu.add_user("Đến sau")
    await transport.send(str(late.id), Rendered("Cảnh báo lũ", photo_keys=poster))
    assert emu.stats.uploads == 6 and emu.sent_to(late) == 1
    assert transport.file_ids.get(key) != "AgACAgUAAxkBAAI-not-any-more"


def test_remembered_file_ids_are_bounded() -> None:
    file_ids = telegram_transport.FileIds(capacity=2)
    keys = [telegram_transport.FileKey(telegram_transport.PHOTO, f"display/{i}.jpg") for i in range(3)]
    for index, key in enumerate(keys):
        file_ids.put(key, f"id-{index}")
        file_ids.get(keys[0])  # used often: kept
    assert len(file_ids) == 2
    assert [file_ids.get(key) for key in keys] == ["id-0", None, "id-2"]


# --- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["", "   ", "a/b.pdf", "a\\b.pdf", "line\nbreak.pdf", "x" * 256])
def test_attachment_names_are_plain_file_names(filename: str) -> None:
    with pytest.raises(ValueError):
        Attachment("evidence/00/00/x.pdf", filename)


def test_documents_must_be_attachments() -> None:
    with pytest.raises(TypeError, match="Attachment"):
        Rendered("x", documents=({"key": "k", "filename": "a.pdf"},))  # type: ignore[arg-type]
    assert Rendered("x").documents == ()


def test_evidence_has_its_own_folder(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    key = store.put(PDF, kind=MediaKind.EVIDENCE, suffix=".pdf")
    assert key.startswith("evidence/") and key.endswith(".pdf")
    assert store.read(key) == PDF and store.path(key) == tmp_path / key
    assert store.put(PDF, kind="evidence", suffix=".pdf") == key
    with pytest.raises(ValueError, match="unknown media kind"):
        store.put(PDF, kind="letters", suffix=".pdf")
    with pytest.raises(ValueError, match="suffix"):
        store.put(PDF, kind="evidence", suffix=".tar/gz")
    with pytest.raises(InvalidMediaKey):
        store.path("letters" + key.removeprefix("evidence"))
