"""Validation messages for a person at a form: the library's schema text (`'off_topic ' does not
match '^\\S(.*\\S)?$'`) said in words, per field. What the form does not recognise is shown
as the library said it, without the JSON path (the field it belongs to shows it already)."""

from __future__ import annotations

import re

from repo_store.errors import Issue

PATH = re.compile(r"^\$\.(\w+)\[(\d+)\](?:\.(\w+))?")  # $.input[0].content, $.tags[1]
REQUIRED = re.compile(r"^'(\w+)' is a required property")
ONE_OF = re.compile(r"is not one of \[(.*)\]")
LIMIT = re.compile(r"(\d+)")
WRONG_TYPE = re.compile(r"^(.*) is not of type '(\w+)'$")
TYPES = {"string": "text", "array": "a list", "object": "an object", "integer": "a whole number",
         "number": "a number", "boolean": "true or false"}
EXTRA = re.compile(r"^Additional properties are not allowed \((.*)\)$")
ITEM = {"input": "chat message", "tags": "tag", "expected": "expected item"}

WORDS = {  # (field, fragment of the schema message) -> what to say
    ("expected", "does not match"): "a label is one line with no space at its start or end",
    ("expected", "is not of type 'string'"): "this match rule compares text: give the expected text",
    ("expected", "is not of type 'array'"): "one_of needs a list: write a | b | c",
    ("expected", "is too short"): "give at least one expected value",
    ("input", "is not valid under any of the given schemas"):
        "give the input as text, or chat messages as a JSON list of {role, content}",
    ("tags", "has non-unique elements"): "a tag is listed twice",
}


def where(field: str, pointer: str) -> tuple[str, str]:
    """A message's lead and the name of what it is about, from the JSON path below the field:
    `$.input[0].content` -> ("chat message 1: ", "content"), `$.tags[1]` -> ("", "tag 2")."""
    at = PATH.match(pointer)
    if not at or at.group(1) != field:
        return "", field
    item = f"{ITEM.get(field, field + ' item')} {int(at.group(2)) + 1}"
    if field == "input":
        return f"{item}: ", at.group(3) or ""
    return "", f"{item} {at.group(3)}" if at.group(3) else item


def in_words(field: str, issue: Issue) -> str:
    message = issue.message
    lead, name = where(field, issue.pointer)

    def say(*words: str) -> str:
        return lead + " ".join(w for w in words if w)

    for (key, fragment), words in WORDS.items():
        if key == field and fragment in message:
            return lead + words
    if message == "is blank (only whitespace)" or message.endswith("should be non-empty"):
        return say(name, "cannot be empty")
    required = REQUIRED.match(message)
    if required:
        return say(required.group(1), "is required")
    allowed = ONE_OF.search(message)
    if allowed:
        return say("must be one of " + allowed.group(1).replace("'", ""))
    if "is too long" in message:
        limit = LIMIT.findall(issue.message)
        return say(name, "is too long" + (f" ({limit[0]} characters)" if limit else ""))
    wrong = WRONG_TYPE.match(message)
    if wrong:
        return say(name, f"must be {TYPES.get(wrong.group(2), wrong.group(2))}, not {wrong.group(1)}")
    extra = EXTRA.match(message)
    if extra:
        return say(name, f"has a field it cannot have ({extra.group(1)})")
    return say(f"{name}:" if name and name != field else "", message)
