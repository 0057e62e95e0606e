"""Request families with exact answers for the outcome corpus (scripts/corpus/build_corpus.py).

Each family has several phrasings (templates); a request is one phrasing filled with random values, often put
inside a free-text wrapper ("Quick question: ...", "I'm filling in a form. ..."). Phrasings and wrappers are dealt
to the train / dev / test splits by their index, so the test split's wordings are never seen in training.

Facts come from data that installed packages ship: pycountry (LGPL-2.1; ISO 3166 countries, ISO 4217 currencies,
ISO 639 languages from Debian's iso-codes) and phonenumbers (Apache-2.0; country calling codes), plus small word
tables written here (CC0). Everything else is computed (arithmetic, dates with the standard library)."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable

SPLITS = ("train", "dev", "test")
Gen = Callable[[random.Random, str], dict]


def split_of(index: int) -> str:
    """Phrasing / wrapper index -> split: 0-2 train, 3 dev, 4 test, then again."""
    return SPLITS[max(0, index % 5 - 2)]


def pick(rng: random.Random, options: list[str], split: str) -> str:
    """A random option whose index belongs to `split` (each list has at least five, so every split has one)."""
    return rng.choice([o for i, o in enumerate(options) if split_of(i) == split])


WRAPPERS = [
    "{q}", "Quick question: {q}", "{q} Just the answer, please.", "Hi! {q}", "Can you help me? {q}",
    "I'm filling in a form for work. {q}", "{q} Thanks in advance.", "Hey there, {q}", "Please answer briefly. {q}",
    "My colleague asked me this and I'm not sure. {q}", "{q}", "For a quiz tonight: {q}", "{q} Keep it short.",
    "Hello, {q}", "Need this for a spreadsheet. {q}",
]


def number_ref(n: int | float) -> str:
    """A regex matching the number as a whole (12 does not match 120 or 1.2); thousands separators allowed."""
    s = f"{n:,}".rstrip("0").rstrip(".") if isinstance(n, float) else f"{n:,}"
    plain = s.replace(",", "")
    return rf"(?<![\d.,]){re.escape(plain)}(?![\d]|[.,]\d)|(?<![\d.,]){re.escape(s)}(?![\d]|[.,]\d)"


def word_ref(word: str) -> str:
    return rf"\b{re.escape(word)}\b"


def item(q: str, reference: str, standin: str, grader: str = "regex") -> dict:
    """grader: `regex` (case-insensitive, as the suite grader is) or `regex_cs` (case matters)."""
    return {"q": q, "reference": reference, "standin": standin, "grader": grader}


# -- arithmetic ------------------------------------------------------------------------------------------------

def arithmetic(rng: random.Random, split: str) -> dict:
    op = rng.choice("+-*")
    hard = rng.random() < 0.5
    a, b = (rng.randint(10, 999), rng.randint(10, 999)) if hard else (rng.randint(1, 20), rng.randint(1, 20))
    if op == "-" and b > a:
        a, b = b, a
    val = a + b if op == "+" else a - b if op == "-" else a * b
    word = {"+": ["plus", "added to", "and"], "-": ["minus", "take away", "less"], "*": ["times", "multiplied by", "x"]}
    t = pick(rng, [f"What is {a} {op} {b}?", f"Calculate {a} {rng.choice(word[op])} {b}.",
                   f"How much is {a} {rng.choice(word[op])} {b}?", f"Compute {a}{op}{b}",
                   f"{a} {op} {b} = ?", f"Work out {a} {rng.choice(word[op])} {b} for me.",
                   f"What do you get for {a} {op} {b}?", f"Solve: {a} {op} {b}",
                   f"Tell me the result of {a} {rng.choice(word[op])} {b}.", f"Quick sum: {a} {op} {b}"], split)
    return item(t, number_ref(val), f"{a} {op} {b} = {val}.")


def percent(rng: random.Random, split: str) -> dict:
    p = rng.choice([5, 10, 20, 25, 50, 15, 30, 75, 40, 12])
    base = rng.choice([20, 40, 60, 80, 100, 120, 200, 240, 300, 400, 500, 800, 1000, 1200])
    val = p * base / 100
    val = int(val) if val == int(val) else val
    t = pick(rng, [f"What is {p}% of {base}?", f"Calculate {p} percent of {base}.",
                   f"How much is {p}% of {base}?", f"If a bill is {base} and the tip is {p}%, how big is the tip?",
                   f"Find {p}% of {base}.", f"A price of {base} is reduced by {p}%. How much is the reduction?",
                   f"{p} percent of {base} is what?", f"What's {p}% of {base}?"], split)
    return item(t, number_ref(val), f"{p}% of {base} is {val}.")


_UNITS = [("kilometers", "meters", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60),
          ("kilograms", "grams", 1000), ("days", "hours", 24), ("weeks", "days", 7), ("liters", "milliliters", 1000),
          ("feet", "inches", 12), ("meters", "centimeters", 100), ("years", "months", 12), ("dozens", "items", 12)]


def conversion(rng: random.Random, split: str) -> dict:
    big, small, k = rng.choice(_UNITS)
    n = rng.randint(2, 12) if rng.random() < 0.6 else rng.randint(13, 250)
    t = pick(rng, [f"How many {small} are in {n} {big}?", f"Convert {n} {big} to {small}.",
                   f"{n} {big} is how many {small}?", f"Express {n} {big} in {small}.",
                   f"How many {small} make {n} {big}?", f"Turn {n} {big} into {small}, please.",
                   f"What is {n} {big} in {small}?"], split)
    return item(t, number_ref(n * k), f"{n} {big} is {n * k:,} {small}.")


# -- dates ------------------------------------------------------------------------------------------------------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def dates(rng: random.Random, split: str) -> dict:
    kind = rng.randrange(4)
    if kind == 0:
        d = dt.date(rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28))
        ds = f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
        t = pick(rng, [f"What day of the week was {ds}?", f"Which weekday is {ds}?", f"{ds} fell on which day?",
                       f"On what day of the week is {ds}?", f"Tell me the weekday of {ds}.",
                       f"Was {ds} a Monday, Tuesday, ...? Which day?"], split)
        day = _DAYS[d.weekday()]
        return item(t, word_ref(day), f"{ds} is a {day}.")
    if kind == 1:
        m = rng.randrange(12)
        nxt = rng.random() < 0.5
        ans = _MONTHS[(m + 1) % 12] if nxt else _MONTHS[m - 1]
        w = "after" if nxt else "before"
        t = pick(rng, [f"Which month comes {w} {_MONTHS[m]}?", f"What month is {w} {_MONTHS[m]}?",
                       f"Name the month right {w} {_MONTHS[m]}.", f"The month {w} {_MONTHS[m]} is?",
                       f"In the calendar, what month is just {w} {_MONTHS[m]}?"], split)
        return item(t, word_ref(ans), f"{ans} comes {w} {_MONTHS[m]}.")
    if kind == 2:
        y, m = rng.randint(1990, 2030), rng.randint(1, 12)
        n = ((dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.date(y, m, 1)).days
        t = pick(rng, [f"How many days are in {_MONTHS[m - 1]} {y}?", f"How many days does {_MONTHS[m - 1]} {y} have?",
                       f"Number of days in {_MONTHS[m - 1]} {y}?", f"{_MONTHS[m - 1]} {y} has how many days?",
                       f"Count the days in {_MONTHS[m - 1]} of {y}."], split)
        return item(t, number_ref(n), f"{_MONTHS[m - 1]} {y} has {n} days.")
    d = dt.date(rng.randint(2000, 2030), rng.randint(1, 12), rng.randint(1, 28))
    k = rng.choice([1, 2, 3, 7, 10, 14, 30])
    e = d + dt.timedelta(days=k)
    t = pick(rng, [f"What date is {k} days after {d.isoformat()}? Answer as YYYY-MM-DD.",
                   f"Add {k} days to {d.isoformat()} (YYYY-MM-DD).", f"{d.isoformat()} plus {k} days is which date (ISO)?",
                   f"If today is {d.isoformat()}, what is the date in {k} days? Use YYYY-MM-DD.",
                   f"Which ISO date is {k} days later than {d.isoformat()}?"], split)
    return item(t, re.escape(e.isoformat()), f"{k} days after {d.isoformat()} is {e.isoformat()}.")


# -- strings ----------------------------------------------------------------------------------------------------

_WORDS = ("apple banana cherry garden window planet rocket pencil coffee mountain river yellow orange guitar "
          "teacher kitchen butterfly elephant computer library holiday pizza summer winter candle forest island "
          "bottle marble shadow thunder velvet harbor lantern meadow pepper silver tomato violin whisper").split()


def strings(rng: random.Random, split: str) -> dict:
    w = rng.choice(_WORDS)
    kind = rng.randrange(5)
    if kind == 0:
        t = pick(rng, [f'How many letters are in the word "{w}"?', f'Count the letters in "{w}".',
                       f'"{w}" has how many letters?', f'What is the length of the word {w} in letters?',
                       f'Number of characters in "{w}"?'], split)
        return item(t, number_ref(len(w)), f'"{w}" has {len(w)} letters.')
    if kind == 1:
        t = pick(rng, [f'Reverse the word "{w}".', f'Write "{w}" backwards.', f'Spell {w} in reverse order.',
                       f'What is "{w}" reversed?', f'Give me the letters of "{w}" from last to first.'], split)
        return item(t, re.escape(w[::-1]), f"{w[::-1]}")
    if kind == 2:
        t = pick(rng, [f'Write the word "{w}" in capital letters.', f'Convert "{w}" to uppercase.',
                       f'Make "{w}" all caps.', f'Uppercase this: {w}', f'Type {w} in upper case.'], split)
        return item(t, re.escape(w.upper()), w.upper(), grader="regex_cs")
    if kind == 3:
        t = pick(rng, [f'What is the first letter of "{w}"?', f'Which letter does "{w}" start with?',
                       f'"{w}" begins with which letter?', f'Give the initial letter of {w}.',
                       f'Name the first letter of the word {w}.'], split)
        return item(t, rf'\b{w[0]}\b|"{w[0]}"|\'{w[0]}\'', f'"{w}" starts with "{w[0]}".')
    words = rng.sample(_WORDS, rng.randint(3, 9))
    s = " ".join(words)
    t = pick(rng, [f'How many words are in this text: "{s}"?', f'Count the words: "{s}"',
                   f'"{s}" - how many words is that?', f'Number of words in: {s}',
                   f'Tell me how many words this has: "{s}"'], split)
    return item(t, number_ref(len(words)), f"It has {len(words)} words.")


# -- extraction and reading -------------------------------------------------------------------------------------

_FIRST = "Maria Jonas Aisha Pedro Yuki Elena Tom Fatima Lars Chen Olga Kwame Sofia Ravi Ines Noah".split()
_LAST = "Lopez Berg Khan Silva Tanaka Rossi Miller Haddad Nilsen Wang Petrova Mensah Costa Patel Duarte Weber".split()
_CITIES = "Lisbon Oslo Nairobi Toronto Osaka Lyon Porto Seattle Dublin Krakow Valencia Lima Accra Hanoi Perth".split()


def extraction(rng: random.Random, split: str) -> dict:
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    city = rng.choice(_CITIES)
    amount = rng.randint(12, 990)
    day = f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2020, 2027)}"
    text = rng.choice([f"{name} moved to {city} on {day} and paid {amount} euros for the first month.",
                       f"On {day}, {name} booked a table in {city} for a party of {amount % 12 + 2}.",
                       f"The invoice of {amount} dollars from {city} was approved by {name} on {day}."])
    kind = rng.randrange(3)
    what, ref = [("person", re.escape(name)), ("city", re.escape(city)), ("date", re.escape(day))][kind]
    t = pick(rng, [f'Which {what} is mentioned in this text: "{text}"', f'Extract the {what} from: "{text}"',
                   f'Text: "{text}" What is the {what}?', f'From the sentence "{text}", give me the {what}.',
                   f'Find the {what} in the following: {text}', f'Pull out the {what}: "{text}"'], split)
    return item(t, ref, ref.replace("\\", ""))


def reading(rng: random.Random, split: str) -> dict:
    n1, n2 = rng.randint(2, 30), rng.randint(31, 90)
    h1, h2 = rng.randint(6, 10), rng.randint(4, 9)
    fact, q, ans = rng.choice([
        (f"Returns are accepted within {n2} days; exchanges within {n1} days.", "How many days do I have to return it?", n2),
        (f"The shop opens at {h1} am and closes at {h2} pm.", "At what time does the shop close (pm)?", h2),
        (f"Standard delivery costs {n1} dollars, express delivery {n2} dollars.", "How much does express delivery cost?", n2),
        (f"The warranty lasts {n1} months for batteries and {n2} months for the device.",
         "How many months of warranty does the device have?", n2),
        (f"Our team has {n1} engineers and {n2} customers.", "How many engineers are on the team?", n1)])
    t = pick(rng, [f'Our help page says: "{fact}" {q}', f'Policy: "{fact}" Question: {q}',
                   f"{fact} Based on that, {q[0].lower() + q[1:]}", f'Read this: "{fact}" - {q}',
                   f'Here is the info: {fact} {q}', f'Context: {fact}\nQ: {q}'], split)
    return item(t, number_ref(ans), f"{ans}.")


# -- formatting -------------------------------------------------------------------------------------------------

def formatting(rng: random.Random, split: str) -> dict:
    words = rng.sample(_WORDS, 3)
    if rng.random() < 0.5:
        key, val = rng.choice(["name", "city", "color", "item", "title"]), rng.choice(_WORDS)
        t = pick(rng, [f'Write a JSON object with the key "{key}" set to "{val}".',
                       f'Return JSON: one field "{key}" whose value is "{val}".', f'Give me {{"{key}": ...}} with {val} as value.',
                       f'Format as JSON: {key} = {val}', f'Produce a JSON object where "{key}" is "{val}".'], split)
        return item(t, rf'"{key}"\s*:\s*"{val}"', json.dumps({key: val}))
    t = pick(rng, [f"Write these as a comma-separated list: {words[0]}; {words[1]}; {words[2]}",
                   f"Join {words[0]}, {words[1]} and {words[2]} with commas (no 'and').",
                   f"Make a comma-separated list of: {' / '.join(words)}",
                   f"Put {words[0]} {words[1]} {words[2]} into one line separated by commas.",
                   f"Comma-separate these words: {' '.join(words)}"], split)
    return item(t, r",\s*".join(map(re.escape, words)), ", ".join(words))


# -- classification ---------------------------------------------------------------------------------------------

_POS = ["works perfectly", "arrived early and looks great", "is the best purchase I made this year",
        "exceeded my expectations", "is comfortable and well made", "made my kids very happy"]
_NEG = ["broke after two days", "arrived damaged", "is a waste of money", "stopped working within a week",
        "smells awful and feels cheap", "never arrived and support ignored me"]
_FRUIT = "apple banana mango pear cherry grape peach plum lemon kiwi".split()
_VEG = "carrot potato onion spinach cabbage broccoli lettuce pea leek celery".split()
_LANG = {"French": ["Bonjour, comment allez-vous ?", "Je voudrais un billet de train.", "Merci beaucoup pour votre aide."],
         "Spanish": ["Buenos días, ¿cómo estás?", "Quiero un café con leche.", "Muchas gracias por todo."],
         "German": ["Guten Morgen, wie geht es Ihnen?", "Ich hätte gern ein Glas Wasser.", "Vielen Dank für Ihre Hilfe."],
         "Italian": ["Buongiorno, come stai?", "Vorrei un biglietto per Roma.", "Grazie mille per l'aiuto."]}


def classification(rng: random.Random, split: str) -> dict:
    kind = rng.randrange(4)
    if kind == 0:
        good = rng.random() < 0.5
        review = f"The {rng.choice(['blender', 'jacket', 'lamp', 'phone case', 'toy', 'kettle'])} " \
                 f"{rng.choice(_POS if good else _NEG)}."
        label = "positive" if good else "negative"
        t = pick(rng, [f'Classify the sentiment of this review as positive or negative. Review: "{review}"',
                       f'Is this review positive or negative? "{review}"', f'Sentiment (positive/negative): {review}',
                       f'"{review}" - would you say the customer is positive or negative?',
                       f'Label this feedback positive or negative: {review}'], split)
        return item(t, word_ref(label), f"{label.capitalize()}.")
    if kind == 1:
        n = rng.randint(1, 9999)
        label = "even" if n % 2 == 0 else "odd"
        t = pick(rng, [f"Is {n} even or odd?", f"Tell me whether {n} is odd or even.", f"{n}: odd or even?",
                       f"Is the number {n} an even number or an odd one?", f"Even or odd: {n}"], split)
        return item(t, rf"\b{label}\b(?!.*\b{'odd' if label == 'even' else 'even'}\b)", f"{n} is {label}.")
    if kind == 2:
        fruit = rng.random() < 0.5
        w = rng.choice(_FRUIT if fruit else _VEG)
        label = "fruit" if fruit else "vegetable"
        t = pick(rng, [f"Is a {w} a fruit or a vegetable?", f"Fruit or vegetable: {w}?",
                       f"Would you call {w} a fruit or a vegetable (in cooking)?", f"Classify {w}: fruit or vegetable.",
                       f"{w.capitalize()} - fruit or vegetable?"], split)
        return item(t, word_ref(label), f"A {w} is a {label}.")
    lang = rng.choice(list(_LANG))
    s = rng.choice(_LANG[lang])
    t = pick(rng, [f'Which language is this sentence written in: "{s}"', f'What language is "{s}"?',
                   f'Identify the language: {s}', f'"{s}" - which language is that?',
                   f'Detect the language of the following text: "{s}"'], split)
    return item(t, word_ref(lang), f"{lang}.")


def comparison(rng: random.Random, split: str) -> dict:
    nums = rng.sample(range(1, 100 if rng.random() < 0.6 else 10000), rng.randint(2, 5))
    if len(nums) == 2 or rng.random() < 0.5:
        big = rng.random() < 0.5
        ans = max(nums) if big else min(nums)
        w = "largest" if big else "smallest"
        ns = ", ".join(map(str, nums))
        t = pick(rng, [f"Which is the {w} number: {ns}?", f"Pick the {w} of {ns}.", f"Of {ns}, which is {w}?",
                       f"Find the {w} value among {ns}.", f"What's the {w} number in this list: {ns}"], split)
        return item(t, number_ref(ans), f"{ans}.")
    ns = ", ".join(map(str, nums))
    t = pick(rng, [f"Sort these numbers from smallest to largest: {ns}", f"Put in ascending order: {ns}",
                   f"Order {ns} from low to high.", f"Arrange ascending: {ns}", f"Sort ascending: {ns}"], split)
    return item(t, r"\D+".join(map(str, sorted(nums))), ", ".join(map(str, sorted(nums))))


# -- facts ------------------------------------------------------------------------------------------------------

_CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
             "Canada": "Ottawa", "Australia": "Canberra", "Egypt": "Cairo", "Kenya": "Nairobi", "Norway": "Oslo",
             "Sweden": "Stockholm", "Poland": "Warsaw", "Greece": "Athens", "Peru": "Lima", "Chile": "Santiago",
             "Argentina": "Buenos Aires", "Mexico": "Mexico City", "China": "Beijing", "India": "New Delhi",
             "Russia": "Moscow", "Turkey": "Ankara", "Ireland": "Dublin", "Austria": "Vienna", "Hungary": "Budapest",
             "Thailand": "Bangkok", "Vietnam": "Hanoi", "Brazil": "Brasília", "Finland": "Helsinki",
             "Denmark": "Copenhagen", "Netherlands": "Amsterdam", "Belgium": "Brussels", "Ghana": "Accra"}
_ELEMENTS = {"oxygen": "O", "hydrogen": "H", "carbon": "C", "nitrogen": "N", "iron": "Fe", "gold": "Au",
             "silver": "Ag", "sodium": "Na", "potassium": "K", "helium": "He", "copper": "Cu", "lead": "Pb",
             "calcium": "Ca", "zinc": "Zn", "tin": "Sn", "mercury": "Hg", "sulfur": "S", "neon": "Ne"}
_YOUNG = {"cat": "kitten", "dog": "puppy", "cow": "calf", "sheep": "lamb", "horse": "foal", "frog": "tadpole",
          "goat": "kid", "duck": "duckling", "bear": "cub", "kangaroo": "joey", "swan": "cygnet", "goose": "gosling"}


def facts(rng: random.Random, split: str) -> dict:
    import phonenumbers
    import pycountry

    kind = rng.randrange(6)
    if kind == 0:
        land, cap = rng.choice(sorted(_CAPITALS.items()))
        t = pick(rng, [f"What is the capital of {land}?", f"Name the capital city of {land}.", f"{land}'s capital is?",
                       f"Which city is the capital of {land}?", f"Tell me the capital of {land}."], split)
        return item(t, re.escape(cap.replace("í", "i")) + "|" + re.escape(cap), f"The capital of {land} is {cap}.")
    if kind == 1:
        e, sym = rng.choice(sorted(_ELEMENTS.items()))
        t = pick(rng, [f"What is the chemical symbol for {e}?", f"Symbol of the element {e}?",
                       f"Which symbol stands for {e} in the periodic table?", f"Give the element symbol of {e}.",
                       f"{e.capitalize()} has which chemical symbol?"], split)
        return item(t, rf"\b{sym}\b", f"The symbol for {e} is {sym}.", grader="regex_cs")
    if kind == 2:
        a, y = rng.choice(sorted(_YOUNG.items()))
        t = pick(rng, [f"What is a baby {a} called?", f"What do you call a young {a}?", f"A baby {a} is a ...?",
                       f"Name for the young of a {a}?", f"What's the word for a baby {a}?"], split)
        return item(t, word_ref(y), f"A baby {a} is called a {y}.")
    countries = [c for c in pycountry.countries if len(c.name) < 20 and "," not in c.name]
    c = rng.choice(countries)
    if kind == 3:
        t = pick(rng, [f"What is the two-letter ISO country code of {c.name}?", f"ISO 3166 alpha-2 code for {c.name}?",
                       f"Which 2-letter country code does {c.name} have?", f"Give the ISO code (2 letters) of {c.name}.",
                       f"Two-letter code for the country {c.name}?"], split)
        return item(t, rf"\b{c.alpha_2}\b", f"{c.name}: {c.alpha_2}.", grader="regex_cs")
    if kind == 4:
        code = phonenumbers.country_code_for_region(c.alpha_2)
        if not code:
            return facts(rng, split)
        t = pick(rng, [f"What is the international dialling code of {c.name}?", f"Country calling code for {c.name}?",
                       f"Which phone prefix (+...) does {c.name} use?", f"To call {c.name} from abroad, what code do I dial?",
                       f"Telephone country code of {c.name}?"], split)
        return item(t, rf"\+\s?{code}(?!\d)|(?<!\d)00{code}(?!\d)", f"+{code}")
    cur = rng.choice([x for x in pycountry.currencies if len(x.name) < 25])
    t = pick(rng, [f"What is the ISO currency code of the {cur.name}?", f"Three-letter code for the {cur.name}?",
                   f"Which ISO 4217 code stands for the {cur.name}?", f"Currency code of the {cur.name}?",
                   f"Give me the 3-letter code for the currency {cur.name}."], split)
    return item(t, rf"\b{cur.alpha_3}\b", f"{cur.alpha_3}", grader="regex_cs")


# -- rewriting --------------------------------------------------------------------------------------------------

_PLURALS = {"child": "children", "mouse": "mice", "tooth": "teeth", "person": "people", "box": "boxes",
            "city": "cities", "knife": "knives", "woman": "women", "goose": "geese", "leaf": "leaves", "bus": "buses"}
_PAST = {"go": "went", "eat": "ate", "run": "ran", "see": "saw", "write": "wrote", "buy": "bought", "think": "thought",
         "swim": "swam", "take": "took", "begin": "began", "drink": "drank", "fly": "flew", "sing": "sang"}
_OPPOSITE = {"hot": "cold", "big": "small", "early": "late", "fast": "slow", "open": "closed", "up": "down",
             "light": "dark", "happy": "sad", "full": "empty", "old": "new", "strong": "weak", "rich": "poor"}


def rewriting(rng: random.Random, split: str) -> dict:
    table, names = rng.choice([(_PLURALS, ["plural of", "plural form of", "the plural for", "plural:", "more than one"]),
                               (_PAST, ["past tense of", "simple past of", "past form of", "past tense:", "yesterday form of"]),
                               (_OPPOSITE, ["opposite of", "antonym of", "word meaning the reverse of", "antonym:",
                                            "contrary of"])])
    w, ans = rng.choice(sorted(table.items()))
    idx = rng.choice([i for i in range(5) if split_of(i) == split])
    t = pick(rng, [f'What is the {names[idx]} "{w}"?', f'Give the {names[idx]} the word "{w}".',
                   f'Write the {names[idx]} "{w}".', f'{names[idx].capitalize()} {w}?', f'Tell me the {names[idx]} {w}.'],
             split)
    return item(t, word_ref(ans), f"{ans}.")


FAMILIES: dict[str, Gen] = {
    "arithmetic": arithmetic, "percent": percent, "conversion": conversion, "dates": dates, "strings": strings,
    "extraction": extraction, "reading": reading, "formatting": formatting, "classification": classification,
    "comparison": comparison, "facts": facts, "rewriting": rewriting,
}


def generate(family: str, rng: random.Random, split: str) -> dict:
    """One request of `family` in `split`: {prompt, reference, grader, standin, tags}."""
    row = FAMILIES[family](rng, split)
    prompt = pick(rng, WRAPPERS, split).format(q=row["q"]) if rng.random() < 0.6 else row["q"]
    ref = f"(?-i:{row['reference']})" if row["grader"] == "regex_cs" else row["reference"]  # the grader ignores case
    return {"prompt": prompt, "reference": ref, "grader": "regex", "standin": row["standin"], "tags": ["corpus", family]}
