"""Personal-data detection for the `personal_data` rule: field libraries where they exist, checksums over shapes.

- phone numbers: `phonenumbers` (libphonenumber) parses each phone-shaped candidate, international or in the
  national format of common regions; a bare digit run counts only next to a word such as "call" or "tel";
- IBANs, payment cards (Luhn and a card-issuer prefix), US SSNs, German tax IDs, French NIRs, UK NHS numbers,
  Spanish DNI/NIE, Italian codici fiscali, Dutch BSNs, Indian Aadhaar numbers: `python-stdnum` validates each
  candidate's checksum, which is what keeps ISBNs, timestamps and order numbers out;
- e-mail addresses (also written "name at host dot com"), UK National Insurance numbers, passport numbers and
  dates of birth next to their keyword, and postal addresses (street lines, UK postcodes, US "City, ST 12345").

Text is normalised before detection (`normalize`): Unicode NFKC (full-width digits and '＠' become ASCII), zero-width
characters and soft hyphens removed, HTML entities decoded ('&#64;'); IBANs are read in any case, cards with
spaces, dashes or dots. A value never includes its keyword ("passport AB1234567" gives "AB1234567").

Candidates are found by regular expressions that start with a literal or a class (one fast scan each); the
libraries run only on candidates, so a prompt without digits or '@' costs a few microseconds per kilobyte. The work
per text is bounded: at most `MAX_CHECKS` candidates go to a library; a text with more is `Unscannable` (the
personal-data rule then keeps it where the rule says, masking refuses to send it). Measured on the corpora in
benchmarks/data/ (pii_corpus.jsonl, pii_evasions.jsonl) by benchmarks/pii_detection.py."""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator

KINDS = ("email", "phone", "iban", "card", "national_id", "tax_id", "passport", "date_of_birth", "address")

_EMAIL_DOMAIN = re.compile(r"@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b(?!:\S)")  # not git@host:path
_TLD = r"(?:com|org|net|edu|gov|io|co|de|uk|fr|es|it|nl|ch|at|be|ca|au|in|info|me|us|eu|mail)"
_EMAIL_SPELLED = re.compile(
    r"\b[\w.+-]+(?:\s*(?:\[dot\]|\(dot\)|\s+dot\s+)\s*\w+)*\s*(?:\[at\]|\(at\)|\{at\}|\s+at\s+)\s*[\w-]+"
    r"(?:\s*(?:\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\.)\s*[\w-]+)*\s*(?:\[dot\]|\(dot\)|\{dot\}|\s+dot\s+)\s*" + _TLD
    + r"\b", re.I)
_PHONE = re.compile(r"[+(]?\d(?:[ \t().\-/]{0,2}\d)+")
_PHONE_WORDS = re.compile(r"(?i)(?:call|phone|tel|mobile|cell|ring|text me|whatsapp|fax|contact|reach|"
                          r"telefon|handy|rufnummer|t[ée]l[ée]phone|portable|m[oó]vil|cellulare|numero|number)\W")
_GROUPED = re.compile(r"^\d{3}[ .-]\d{3}[ .-]\d{4}$|^\d{2,4}(?:[ .-]\d{2,4}){2,4}$")  # 415-867-5309, 612 345 678
_DATE_LIKE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "AU", "CA", "CH", "AT", "BE", "IE", "BR", "MX")
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ .-]?[A-Za-z0-9]{4}){2,7}(?:[ .-]?[A-Za-z0-9]{1,3})?\b")
_CARD = re.compile(r"\b\d(?:[ .-]?\d){12,18}\b")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|4[4-9]|5)|35)")
_SSN = re.compile(r"\b\d{3}([- ])\d{2}\1\d{4}\b")
_TAX_DE = re.compile(r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b")
_NIR = re.compile(r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b")
_NHS = re.compile(r"\b\d{3} ?\d{3} ?\d{4}\b")
_DNI = re.compile(r"\b(?:\d{8}|[XYZ]\d{7})-?[A-Z]\b")
_CF = re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b")
_BSN = re.compile(r"\b\d{9}\b")
_AADHAAR = re.compile(r"\b\d{4} \d{4} \d{4}\b")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_ID_WORDS = re.compile(r"(?i)\b(?:ssn|social security|steuer|tax|tin|idnr|identifikationsnummer|bsn|"
                       r"burgerservicenummer|aadhaar|nhs|s[ée]curit[ée] sociale|insee|dni|nie|codice fiscale)")
_PASSPORT = re.compile(r"(?i)\b(?:passport|reisepass|passeport|pasaporte|passaporto)\b[^\n]{0,30}?"
                       r"\b((?=[A-Z0-9]{6,9}\b)(?=[A-Z0-9]*\d)[A-Z0-9]{6,9})\b")
_DATE = (r"(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]+\.?,?\s+\d{4}|"
         r"[A-Z][a-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})")
_DOB = re.compile(r"(?i:\b(?:date of birth|d\.?o\.?b\.?|born(?: on)?|birth ?date|birthday|geboren(?: am)?|"
                  r"geburtsdatum|n[ée]e? le|date de naissance|fecha de nacimiento|nato il|nata il))"
                  r"[\s:,-]{0,3}(?:(?:is|was|ist|est|es|am|on)\s+)?"
                  "(" + _DATE + ")")
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|"
    r"Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Close|Crescent|Square|Parkway|Highway)\b\.?"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm)\s+\d{1,4}[a-z]?\b"
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai)\s+\w+"
    r"|\b(?:Calle|Avenida|Paseo|Via|Viale|Piazza|Corso|Rua)\s+(?:[A-Z][\w'.-]*\s*){1,4},?\s*\d{1,4}\b")
_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s+\d[ABD-HJLNP-UW-Z]{2}|[A-Z][a-z]+,\s+[A-Z]{2}\s+\d{5}"
                       r"(?:-\d{4})?)\b")


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _near(words: re.Pattern, text: str, start: int, before: int = 40) -> bool:
    return bool(words.search(text, max(0, start - before), start))


def _email(text: str) -> Iterator[str]:
    """name@host.tld: the '@host.tld' part is searched (a fast scan for '@'), the name read backwards from it."""
    for m in _EMAIL_DOMAIN.finditer(text):
        i = j = m.start()
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "._+-"):
            j -= 1
        if j < i:
            yield text[j:m.end()]


class Unscannable(ValueError):
    """A text that cannot be checked within the bounds (too long, or too many candidates): treat it as holding
    personal data."""


MAX_CHECKS = 2000  # candidates handed to a library (phonenumbers, stdnum) per scan: bounds the work on any input
_budget = threading.local()


def _spend() -> None:
    left = getattr(_budget, "left", None)
    if left is None:
        return
    if left <= 0:
        raise Unscannable(f"more than {MAX_CHECKS:,} number-shaped candidates to check")
    _budget.left = left - 1


def _phone(text: str) -> Iterator[str]:
    import phonenumbers

    for m in _PHONE.finditer(text):
        cand = m.group(0).strip()
        if cand.startswith("(") and ")" not in cand:
            cand = cand[1:]
        if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "-."):
            continue  # inside a word or an id (CVE-2021-44228, v1.2.3)
        n = len(_digits(cand))
        if not 7 <= n <= 15 or _DATE_LIKE.match(cand):
            continue
        intl = cand.startswith(("+", "00"))
        bare10 = n == 10 and cand.isdigit() and cand[0] in "23456789"  # a bare North American number
        if not (intl or bare10 or cand.startswith(("(", "0")) or _GROUPED.match(cand)
                or _near(_PHONE_WORDS, text, m.start())):
            continue  # a bare or loosely grouped digit run (an id, a version) is a phone only where the text says so
        _spend()
        if not intl and _isbn(cand):
            continue
        regions = (None,) if intl else (("US", "CA") if bare10 and not _near(_PHONE_WORDS, text, m.start())
                                         else _REGIONS)
        for region in regions:
            try:
                num = phonenumbers.parse("+" + cand[2:] if cand.startswith("00") else cand, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(num):
                yield cand
                break


def _isbn(cand: str) -> bool:
    from stdnum import isbn

    return isbn.is_valid(cand)


def _checked(pattern: re.Pattern, module: str, *, keyword: bool | str = False, **check) -> Callable[[str], Iterator[str]]:
    """Candidates of `pattern` that `stdnum.<module>` validates (`check`: its options); with keyword=True only next
    to an ID word, with keyword="spaced" also when written in its grouped form (with spaces)."""
    def find(text: str) -> Iterator[str]:
        import importlib

        mod = importlib.import_module(f"stdnum.{module}")
        for m in pattern.finditer(text):
            cand = m.group(0)
            if keyword and not (keyword == "spaced" and " " in cand) and not _near(_ID_WORDS, text, m.start(), 60):
                continue
            _spend()
            try:
                mod.validate(re.sub(r"[ .-]", "", cand).upper(), **check)
            except ValueError:  # stdnum's ValidationError and its subclasses
                continue
            yield cand
    return find


def _card(text: str) -> Iterator[str]:
    from stdnum import luhn

    for m in _CARD.finditer(text):
        d = _digits(m.group(0))
        if _CARD_PREFIX.match(d):
            _spend()
            if luhn.is_valid(d) and not _isbn(d):
                yield m.group(0)


def _regex(pattern: re.Pattern) -> Callable[[str], Iterator[str]]:
    """Each match (its first group where the pattern has one: the value without its keyword)."""
    if pattern.groups:
        return lambda text: (m.group(1) for m in pattern.finditer(text))
    return lambda text: (m.group(0) for m in pattern.finditer(text))


_DETECTORS: dict[str, tuple[Callable[[str], Iterator[str]], ...]] = {
    "email": (_email, _regex(_EMAIL_SPELLED)),
    "phone": (_phone,),
    "iban": (_checked(_IBAN, "iban", check_country=False),),  # the ISO 7064 checksum; not each bank's own
    "card": (_card,),
    "national_id": (_checked(_SSN, "us.ssn"), _checked(_NIR, "fr.nir"), _checked(_NHS, "gb.nhs", keyword=True),
                    _checked(_DNI, "es.nie"), _checked(_DNI, "es.dni"), _checked(_CF, "it.codicefiscale"),
                    _checked(_BSN, "nl.bsn", keyword=True), _checked(_AADHAAR, "in_.aadhaar", keyword="spaced"),
                    _regex(_NINO)),
    "tax_id": (_checked(_TAX_DE, "de.idnr", keyword="spaced"),),
    "passport": (_regex(_PASSPORT),),
    "date_of_birth": (_regex(_DOB),),
    "address": (_regex(_STREET), _regex(_POSTCODE)),
}
_ANY_DIGIT = re.compile(r"\d")
_ISLAND = re.compile(r"\d(?:[ \-./]?\d)+")  # a run of digits with single separators
_LONG_NUMBER = frozenset({"phone", "iban", "card", "national_id", "tax_id"})  # need 7+ digits in a run...
_SHORT_ID = (_CF, _NINO)  # ...except these two national ids, with their letters between short digit runs
_WORDS = {  # a kind's detectors run only when the lower-cased text has one of these
    "passport": ("pass", "pasaporte"),
    "date_of_birth": ("birth", "dob", "d.o.b", "born", "geboren", "geburt", "naissance", "nacimiento", "nato il",
                      "nata il", "née le", "né le", "nee le", "ne le"),
}
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"))  # zero-width, soft hyphen


def normalize(text: str) -> str:
    """The text as detection reads it: HTML entities decoded, invisible characters removed, NFKC (full-width forms
    and no-break spaces become ASCII). ASCII text without '&' is returned as it is (the common case: one check)."""
    if "&" in text:
        text = html.unescape(text)
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text.translate(_INVISIBLE))


def _gates(text: str) -> set[str]:
    """The kinds worth looking for in `text`, from cheap whole-text scans."""
    kinds = set()
    if "@" in text or (any(a in text for a in (" at ", "[at]", "(at)", "{at}", " AT "))
                       and any(d in text.lower() for d in (" dot ", "[dot]", "(dot)", "{dot}"))):
        kinds.add("email")
    if not _ANY_DIGIT.search(text):
        return kinds
    low = text.lower()
    kinds.update(k for k, words in _WORDS.items() if any(w in low for w in words))
    kinds.add("address")
    if any(len(m.group(0)) >= 7 and sum(c.isdigit() for c in m.group(0)) >= 7 for m in _ISLAND.finditer(text)):
        kinds.update(_LONG_NUMBER)
    elif any(p.search(text) for p in _SHORT_ID):
        kinds.add("national_id")
    return kinds


def _hits(text: str, kinds: tuple[str, ...], first: bool) -> list[tuple[str, str]]:
    worth, out, seen = _gates(text), [], set()
    _budget.left = MAX_CHECKS
    try:
        for kind in kinds:
            if kind not in worth:
                continue
            for detector in _DETECTORS[kind]:
                for hit in detector(text):
                    if hit and hit not in seen:
                        seen.add(hit)
                        out.append((kind, hit))
                        if first:
                            return out
    finally:
        _budget.left = None
    return out


def find(text: str, kinds: tuple[str, ...] = KINDS, normalized: bool = False) -> tuple[str, str] | None:
    """The first (kind, matched text) of personal data in `text` (normalised first unless `normalized`), or None.
    Unscannable when the text has more candidates than the scan checks."""
    hits = _hits(text if normalized else normalize(text), kinds, first=True)
    return hits[0] if hits else None


def find_all(text: str, kinds: tuple[str, ...] = KINDS, normalized: bool = False) -> list[tuple[str, str]]:
    """Every distinct (kind, value) in `text`, in one pass per detector (not one rescan per value)."""
    return _hits(text if normalized else normalize(text), kinds, first=False)


def in_request(request, kinds: tuple[str, ...] = KINDS, max_chars: int | None = None) -> list[tuple[str, str]]:
    """Every (kind, value) in every text of `request` that reaches a tier (`ChatRequest.scan_text`, normalised),
    computed once per request and set of kinds. Unscannable past `max_chars` characters or MAX_CHECKS candidates."""
    cache = request.__dict__.setdefault("_pii_hits", {})
    if kinds not in cache:
        text = request.scan_text
        if max_chars is not None and len(text) > max_chars:
            cache[kinds] = Unscannable(f"the request's texts are {len(text):,} characters, over the "
                                       f"{max_chars:,} scanned (limits.max_scan_chars)")
        else:
            try:
                cache[kinds] = find_all(text, kinds)
            except Unscannable as e:
                cache[kinds] = e
    hits = cache[kinds]
    if isinstance(hits, Unscannable):
        raise hits
    return hits


_SAMPLE = ("mail a.b@example.com or call +44 20 7946 0958, (415) 867-5309 or 030 901820; IBAN DE89 3704 0044 0532 0130 00, "
           "card 4111 1111 1111 1111, SSN 536-90-4399, passport X1234567, born 12/03/1987, 221B Baker Street")


def warmup() -> None:
    """Load what the first scan would load (phonenumbers' metadata of every region, python-stdnum's checkers), so
    that no request pays for it, or holds up a server's other requests while it imports."""
    import phonenumbers

    for region in _REGIONS:
        try:
            phonenumbers.is_valid_number(phonenumbers.parse("0301234567", region))
        except phonenumbers.NumberParseException:
            pass
    find_all(_SAMPLE)
