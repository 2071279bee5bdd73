"""Validation messages for a person at a form: the library's schema text (`'off_topic ' does not
match '^\\S(.*\\S)?$'`) said in words, per field. What the form does not recognise is shown
as the library said it, without the JSON path (the field it belongs to shows it already)."""

from __future__ import annotations

import re

from repo_store.errors import Issue

MESSAGE_INDEX = re.compile(r"^\$\.input\[(\d+)\]")
REQUIRED = re.compile(r"^'(\w+)' is a required property")
ONE_OF = re.compile(r"is not one of \[(.*)\]")
LIMIT = re.compile(r"(\d+)")

WORDS = {  # (field, fragment of the schema message) -> what to say
    ("expected", "does not match"): "a label is one line with no space at its start or end",
    ("expected", "is not of type 'string'"): "this match rule compares text: give the expected text",
    ("expected", "is not of type 'array'"): "one_of needs a list: write a | b | c",
    ("expected", "is too short"): "give at least one expected value",
    ("input", "is not valid under any of the given schemas"):
        "give the input as text, or chat messages as a JSON list of {role, content}",
    ("tags", "has non-unique elements"): "a tag is listed twice",
}


def in_words(field: str, issue: Issue) -> str:
    message = issue.message
    at = MESSAGE_INDEX.match(issue.pointer)
    prefix = f"chat message {int(at.group(1)) + 1}: " if at else ""
    for (name, fragment), words in WORDS.items():
        if name == field and fragment in message:
            return prefix + words
    if message == "is blank (only whitespace)" or message.endswith("should be non-empty"):
        return prefix + f"{field} cannot be empty"
    required = REQUIRED.match(message)
    if required:
        return prefix + f"{required.group(1)} is required"
    allowed = ONE_OF.search(message)
    if allowed:
        return prefix + "must be one of " + allowed.group(1).replace("'", "")
    if "is too long" in message:
        limit = LIMIT.findall(issue.message)
        return prefix + f"{field} is too long" + (f" ({limit[0]} characters)" if limit else "")
    return prefix + message
