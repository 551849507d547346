"""The field rules of JSON Feed 1.1 (https://jsonfeed.org/version/1.1), as a checker returning what breaks them."""

from __future__ import annotations

from datetime import datetime

TOP_STRINGS = {"title", "home_page_url", "feed_url", "description", "user_comment", "next_url", "icon", "favicon", "language"}
ITEM_STRINGS = {"id", "url", "external_url", "title", "content_html", "content_text", "summary", "image", "banner_image", "language"}


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _authors(where: str, authors: object) -> list[str]:
    if not isinstance(authors, list):
        return [f"{where}.authors must be an array"]
    problems = []
    for author in authors:
        if not isinstance(author, dict) or not any(isinstance(author.get(k), str) for k in ("name", "url", "avatar")):
            problems.append(f"{where}.authors: each author needs a name, url or avatar")
    return problems


def problems(feed: dict) -> list[str]:
    found = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        found.append("version must be https://jsonfeed.org/version/1.1")
    if not isinstance(feed.get("title"), str):
        found.append("title is required")
    if not isinstance(feed.get("items"), list):
        found.append("items is required and an array")
    for key, value in feed.items():
        if key in TOP_STRINGS and not isinstance(value, str):
            found.append(f"{key} must be a string")
        elif key == "expired" and not isinstance(value, bool):
            found.append("expired must be a boolean")
        elif key == "authors":
            found += _authors("feed", value)
        elif key == "hubs":
            if not isinstance(value, list) or not all(
                isinstance(h, dict) and isinstance(h.get("type"), str) and isinstance(h.get("url"), str) for h in value
            ):
                found.append("hubs must be objects with type and url")
        elif key not in TOP_STRINGS | {"version", "items", "expired"} and not key.startswith("_"):
            found.append(f"unknown top-level field {key} (extensions start with _)")
    ids = []
    for index, item in enumerate(feed.get("items") or []):
        where = f"items[{index}]"
        if not isinstance(item.get("id"), str) or not item["id"]:
            found.append(f"{where}.id is required and a string")
        ids.append(item.get("id"))
        if not isinstance(item.get("content_html"), str) and not isinstance(item.get("content_text"), str):
            found.append(f"{where} needs content_html or content_text")
        for key, value in item.items():
            if key in ITEM_STRINGS and not isinstance(value, str):
                found.append(f"{where}.{key} must be a string")
            elif key in ("date_published", "date_modified") and not _rfc3339(value):
                found.append(f"{where}.{key} must be an RFC 3339 date")
            elif key == "tags" and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
                found.append(f"{where}.tags must be strings")
            elif key == "authors":
                found += _authors(where, value)
            elif key not in ITEM_STRINGS | {"date_published", "date_modified", "tags", "authors", "attachments"} and not key.startswith(
                "_"
            ):
                found.append(f"{where}: unknown field {key}")
    if len(ids) != len(set(ids)):
        found.append("item ids must be unique")
    return found
