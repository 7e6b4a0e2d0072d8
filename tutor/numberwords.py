# ruff: noqa: RUF002, RUF003 - multilingual text (Arabic letters and digits) by design
"""Numbers written in words, in English, Spanish, French and Arabic, for the answer-leak
guard (tutor.guard): "fifteen", "quince", "quinze", "خمسة عشر", "three quarters",
"zero point seven five", "one five" (spelled-out digits), "one and a half".

Everything works on text already passed through `normalize` (case folded, accents and
Arabic vowel marks removed, Arabic letter variants unified, every Unicode digit made
ASCII), so the lexicon below is written in that form: "dieciseis", "deuxieme", "خمسه".

A run of number words is read with a small grammar instead of by adding every number
in sight, so that "between two and three" stays 2 and 3 (never 5), while "twenty-one",
"treinta y cinco", "soixante et onze", "quatre-vingt-dix-sept", "خمسة وعشرون" (5 + 20)
and "ثلاثة آلاف" are single numbers. The guard only asks "could this phrase mean the
answer?", so where a word is ambiguous (Arabic "خمس": five or a fifth) either reading
may be returned.
"""

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

# --- normalisation ---------------------------------------------------------------------

_ARABIC = str.maketrans(
    {
        "\u0649": "\u064a",  # alef maqsura → yeh
        "\u0629": "\u0647",  # teh marbuta → heh
        "\u0671": "\u0627",  # alef wasla → alef
        "\u0640": None,  # tatweel
        "\u066b": ".",  # Arabic decimal separator
        "\u066c": ",",  # Arabic thousands separator
        "\u066a": "%",  # Arabic percent sign
        "\u060c": ",",  # Arabic comma
        "\u061b": ";",  # Arabic semicolon
        "\u061f": "?",  # Arabic question mark
        "\u2212": "-",  # minus sign
        "\u2013": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\u200c": None,
        "\u200d": None,
        "\u200e": None,  # directional marks
        "\u200f": None,
        "\u2018": "'",
        "\u2019": "'",
    }
)


def _ascii_digit(char: str) -> str:
    value = unicodedata.decimal(char, None)
    return str(value) if value is not None else char


def normalize(text: str, *, fold_case: bool = True) -> str:
    """Compatibility-normalised (fullwidth and superscript forms become plain), case
    folded, without accents or Arabic vowel marks, hamza forms reduced to their bare
    letter (أ إ آ → ا), every decimal digit ASCII (٠-٩, ۰-۹ → 0-9), Arabic decimal
    and thousands separators as "." and ",". Length may change."""
    text = unicodedata.normalize("NFKC", text)
    if fold_case:
        text = text.casefold()
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = unicodedata.normalize("NFC", text).translate(_ARABIC)
    if not text.isascii():
        text = "".join(_ascii_digit(c) if c.isdecimal() else c for c in text)
    return text


# --- lexicon ---------------------------------------------------------------------------
# Classes: digit (0-9), ten (10, which also forms Arabic teens after a digit), teen
# (11-19), tens (20-90), compound (21-29 in one Spanish word), hundred (× 100),
# hundreds (200-900 in one word), scale (× 1000, 10^6, 10^9), article ("a", "un": one
# only before hundred/scale/fraction words).

DIGIT, TEN, TEEN, TENS, COMPOUND, HUNDRED, HUNDREDS, SCALE, ARTICLE = (
    "digit",
    "ten",
    "teen",
    "tens",
    "compound",
    "hundred",
    "hundreds",
    "scale",
    "article",
)

_WORDS: dict[str, tuple[str, int]] = {}


def _add(cls: str, entries: dict[int, str]) -> None:
    for value, words in entries.items():
        for word in words.split():
            _WORDS[normalize(word)] = (cls, value)


# English
_add(DIGIT, {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"})
_add(DIGIT, {7: "seven", 8: "eight", 9: "nine"})
_add(TEN, {10: "ten"})
_add(
    TEEN,
    {
        11: "eleven",
        12: "twelve",
        13: "thirteen",
        14: "fourteen",
        15: "fifteen",
        16: "sixteen",
        17: "seventeen",
        18: "eighteen",
        19: "nineteen",
    },
)
_add(
    TENS,
    {
        20: "twenty",
        30: "thirty",
        40: "forty fourty",
        50: "fifty",
        60: "sixty",
        70: "seventy",
        80: "eighty",
        90: "ninety",
    },
)
_add(HUNDRED, {100: "hundred"})
_add(SCALE, {1000: "thousand", 10**6: "million", 10**9: "billion"})
_add(ARTICLE, {1: "a an"})
# Spanish
_add(DIGIT, {0: "cero", 1: "uno una", 2: "dos", 3: "tres", 4: "cuatro", 5: "cinco"})
_add(DIGIT, {6: "seis", 7: "siete", 8: "ocho", 9: "nueve"})
_add(TEN, {10: "diez"})
_add(
    TEEN,
    {
        11: "once",
        12: "doce",
        13: "trece",
        14: "catorce",
        15: "quince",
        16: "dieciséis",
        17: "diecisiete",
        18: "dieciocho",
        19: "diecinueve",
    },
)
_add(TENS, {20: "veinte", 30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta"})
_add(TENS, {70: "setenta", 80: "ochenta", 90: "noventa"})
_add(
    COMPOUND,
    {
        21: "veintiuno veintiuna veintiún",
        22: "veintidós",
        23: "veintitrés",
        24: "veinticuatro",
        25: "veinticinco",
        26: "veintiséis",
        27: "veintisiete",
        28: "veintiocho",
        29: "veintinueve",
    },
)
_add(HUNDRED, {100: "cien ciento"})
_add(
    HUNDREDS,
    {
        200: "doscientos doscientas",
        300: "trescientos trescientas",
        400: "cuatrocientos cuatrocientas",
        500: "quinientos quinientas",
        600: "seiscientos seiscientas",
        700: "setecientos setecientas",
        800: "ochocientos ochocientas",
        900: "novecientos novecientas",
    },
)
_add(SCALE, {1000: "mil", 10**6: "millón millones"})
_add(ARTICLE, {1: "un"})  # Spanish and French "un": an article unless a scale follows
# French
_add(DIGIT, {0: "zéro", 1: "une", 2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six"})
_add(DIGIT, {7: "sept", 8: "huit", 9: "neuf"})
_add(TEN, {10: "dix"})
_add(
    TEEN,
    {11: "onze", 12: "douze", 13: "treize", 14: "quatorze", 15: "quinze", 16: "seize"},
)
_add(
    TENS,
    {
        20: "vingt vingts",
        30: "trente",
        40: "quarante",
        50: "cinquante",
        60: "soixante",
        70: "septante",
        80: "huitante octante",
        90: "nonante",
    },
)
_add(HUNDRED, {100: "cent cents"})
_add(SCALE, {1000: "mille mil", 10**6: "million millions", 10**9: "milliard milliards"})
# "une" is an article as often as a number; like "un" it counts before scale words only.
_add(ARTICLE, {1: "une"})
# Arabic (normalised spelling: ة → ه, ى → ي, hamza forms bare)
_add(DIGIT, {0: "صفر", 1: "واحد واحده احد احدي", 3: "ثلاثه ثلاث", 4: "اربعه اربع"})
_add(DIGIT, {2: "اثنان اثنين اثنتان اثنتين اثنا اثني اثنتا اثنتي"})
_add(DIGIT, {5: "خمسه خمس", 6: "سته ست", 7: "سبعه سبع", 8: "ثمانيه ثماني ثمان"})
_add(DIGIT, {9: "تسعه تسع"})
_add(TEN, {10: "عشره عشر"})
_add(
    TENS,
    {
        20: "عشرون عشرين",
        30: "ثلاثون ثلاثين",
        40: "اربعون اربعين",
        50: "خمسون خمسين",
        60: "ستون ستين",
        70: "سبعون سبعين",
        80: "ثمانون ثمانين",
        90: "تسعون تسعين",
    },
)
_add(HUNDRED, {100: "مئه مائه"})
_add(HUNDREDS, {200: "مئتان مئتين مائتان مائتين"})
for _value, _stem in enumerate(["ثلاث", "اربع", "خمس", "ست", "سبع", "ثمان", "تسع"], start=3):
    _add(HUNDREDS, {_value * 100: f"{_stem}مئه {_stem}مائه"})
_add(SCALE, {1000: "الف الاف", 10**6: "مليون ملايين", 10**9: "مليار"})
_add(HUNDREDS, {2000: "الفان الفين"})  # dual: a whole number, like a hundreds word

# Fraction denominators: "three quarters" is 3 × 1/4. Singular and plural.
DENOMINATORS: dict[str, int] = {}
for _value, _words in {
    2: "half halves medio media medios medias demi demie demis نصف",
    3: "third thirds tercio tercios tiers ثلث اثلاث",
    4: "quarter quarters fourth fourths cuarto cuartos quart quarts ربع ارباع",
    5: "fifth fifths quinto quintos cinquième cinquièmes اخماس",
    6: "sixth sixths sexto sextos sixième sixièmes سدس اسداس",
    7: "seventh sevenths séptimo séptimos septième septièmes اسباع",
    8: "eighth eighths octavo octavos huitième huitièmes ثمن اثمان",
    9: "ninth ninths noveno novenos neuvième neuvièmes اتساع",
    10: "tenth tenths décimo décimos dixième dixièmes اعشار",
    100: "hundredth hundredths centésimo centésimos centième centièmes",
    1000: "thousandth thousandths milésimo milésimos millième millièmes",
}.items():
    for _word in _words.split():
        DENOMINATORS[normalize(_word)] = _value
# Denominators that mean "half" (or a quarter) on their own, and after "and" in mixed
# numbers: "one and a half", "uno y medio", "un et demi", "واحد ونصف".
_STANDALONE_FRACTIONS = {normalize(w): Fraction(1, 2) for w in ("half", "نصف")} | {
    normalize(w): Fraction(1, 4) for w in ("ربع",)
}
_MIXED = {
    normalize(w): Fraction(1, 2) for w in ["half", "medio", "media", "demi", "demie", "نصف"]
} | {normalize(w): Fraction(1, 4) for w in ["quarter", "cuarto", "quart", "ربع"]}
# Arabic "two thirds" is one dual word.
_DUALS = {normalize("ثلثان"): Fraction(2, 3), normalize("ثلثين"): Fraction(2, 3)}

# Number words that are also common words in another supported language (English
# "once", "seize"; French "neuf" new, "très" → "tres"; Arabic "ست" lady, "سبع" lion):
# on their own they count only in an explicit statement, like the words for 0-3.
_AMBIGUOUS = {
    normalize(w)
    for w in [
        "once",
        "seize",
        "cent",
        "cents",
        "neuf",
        "sept",
        "mil",
        "dos",
        "tres",
        "mille",
        "ست",
        "سبع",
        "احد",
        "عشر",
    ]
}
CONNECTORS = {"and": "en", "y": "es", "et": "fr", "و": "ar"}
DECIMAL_POINTS = {
    normalize(w)
    for w in [
        "point",
        "punto",
        "coma",
        "virgule",
        "comma",
        "فاصله",
        "فاصلة",
    ]
}
NEGATIVES = {
    normalize(w)
    for w in [
        "minus",
        "negative",
        "menos",
        "negativo",
        "negativa",
        "moins",
        "négatif",
        "سالب",
    ]
}

ORDINALS: dict[str, int] = {}
for _value, _words in {
    1: "first 1st primero primera primer premier première 1er 1re الاول الاولي اول اولي",
    2: "second 2nd segundo segunda deuxième seconde second 2e 2eme الثاني الثانيه ثاني",
    3: "third 3rd tercero tercera tercer troisième 3e 3eme الثالث الثالثه ثالث",
    4: "fourth 4th cuarto cuarta quatrième 4e 4eme الرابع الرابعه رابع",
    5: "fifth 5th quinto quinta cinquième 5e الخامس الخامسه خامس",
    6: "sixth 6th sexto sexta sixième 6e السادس السادسه سادس",
    7: "seventh 7th séptimo séptima septième 7e السابع السابعه سابع",
    8: "eighth 8th octavo octava huitième 8e الثامن الثامنه ثامن",
    9: "ninth 9th noveno novena neuvième 9e التاسع التاسعه تاسع",
    10: "tenth 10th décimo décima dixième 10e العاشر العاشره عاشر",
    -1: "last última último dernier dernière الاخير الاخيره اخر",
}.items():
    for _word in _words.split():
        ORDINALS[normalize(_word)] = _value


# --- reading runs of words ---------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+|\d+(?:st|nd|rd|th|er|re|e|eme)\b")
# What may stand between two words of one number: spaces and hyphens only.
_JOINER = re.compile(r"[\s\-]*")


@dataclass(frozen=True)
class NumberPhrase:
    """Words at text[start:end] that may mean any of `values`. `weak` phrases (a lone
    word for 0-3, like "one" in "the second one" or "deux" in "les deux côtés") are so
    common in prose that the guard counts them only in an explicit statement."""

    start: int
    end: int
    values: frozenset[Fraction]
    weak: bool = False


@dataclass
class _Word:
    text: str
    start: int
    end: int
    connector: str = ""  # an Arabic "و" glued to the front of this word


def _lookup(word: str) -> str:
    """The lexicon form of `word`, unglued from Arabic prefixes (ال, و) if needed."""
    if word in _WORDS or word in DENOMINATORS or word in _DUALS:
        return word
    if word.startswith("ال") and len(word) > 3 and word[2:] in _WORDS:
        return word[2:]
    return word


def _words(text: str) -> list[list[_Word]]:
    """Runs of words with only spaces or hyphens between them."""
    runs: list[list[_Word]] = []
    run: list[_Word] = []
    previous_end = None
    for match in _WORD.finditer(text):
        if previous_end is not None and not _JOINER.fullmatch(text, previous_end, match.start()):
            runs.append(run)
            run = []
        word = match.group(0)
        item = _Word(word, match.start(), match.end())
        if word not in _WORDS and word.startswith("و") and len(word) > 2:
            rest = _lookup(word[1:])
            if rest in _WORDS or rest in DENOMINATORS or rest in _DUALS:
                item = _Word(rest, match.start(), match.end(), connector="و")
        else:
            item.text = _lookup(word)
        run.append(item)
        previous_end = match.end()
    runs.append(run)
    return [r for r in runs if r]


@dataclass
class _Number:
    start: int
    end: int
    total: int = 0  # completed thousands and up
    group: int = 0  # below the current scale
    last: str = ""  # class of the last word
    last_value: int = 0
    scale: int = 0  # smallest scale used so far (later scales must be smaller)
    words: int = 0
    single_digits: bool = True

    @property
    def value(self) -> int:
        return self.total + self.group


def _extends(number: _Number, cls: str, value: int, connector: str) -> bool:
    """Whether a word of `cls`/`value`, after `connector` ("" if none), continues
    `number` in one of the four languages' grammars."""
    last, last_value = number.last, number.last_value
    if cls == SCALE:
        return (not number.scale or value < number.scale) and connector == "" and number.group > 0
    if cls == HUNDRED:
        return connector == "" and last in (DIGIT, ARTICLE) and number.group < 10
    if last in (HUNDRED, HUNDREDS, SCALE):
        limit = 1000 if last == SCALE else 100
        small = value < limit and cls not in (HUNDRED, SCALE)
        if last == SCALE and cls == HUNDREDS and value < 1000:
            small = True
        return small and connector in ("", "and", "و", "y", "e")
    if last == TENS:
        if cls == DIGIT and value > 0 and number.group % 10 == 0:
            # twenty-five, treinta y cinco, vingt et un (only "un" takes "et")
            return connector in ("", "y", "و") or (connector == "et" and value == 1)
        if cls in (TEN, TEEN) and last_value in (60, 80) and number.group % 20 == 0:
            # soixante-dix, soixante et onze, quatre-vingt-treize
            return connector == "" or (connector == "et" and value == 11)
        return False
    if last == TEN and cls == DIGIT and value >= 7 and connector == "":
        return True  # dix-sept, dix-huit, dix-neuf
    if last == DIGIT:
        if cls == TEN and connector == "":
            return True  # خمسة عشر (digit before ten: Arabic teens)
        if cls == TENS and connector == "و":
            return True  # خمسة وعشرون (unit before tens, joined by و)
        if cls == TENS and value == 20 and last_value == 4 and connector == "":
            return True  # quatre-vingt(s)
    return False


def _apply(number: _Number, cls: str, value: int) -> None:
    if cls == SCALE:
        number.total += (number.group or 1) * value
        number.group = 0
        number.scale = value
    elif cls == HUNDRED:
        number.group = (number.group or 1) * 100
    elif cls == TENS and value == 20 and number.last == DIGIT and number.last_value == 4:
        number.group = number.group - 4 + 80
        value = 80  # quatre-vingt: later words see 80, as after "soixante"
    elif cls == HUNDREDS and value >= 1000:
        number.total += value
        number.scale = 1000
    else:
        number.group += value
    number.last = cls
    number.last_value = value
    number.words += 1
    if cls != DIGIT:
        number.single_digits = False
    if cls == ARTICLE:
        number.group = max(number.group, 1)


def find_numbers(text: str) -> list[NumberPhrase]:
    """Every number written in words in `text` (already `normalize`d), with spans."""
    phrases: list[NumberPhrase] = []
    numbers: list[_Number] = []
    for run in _words(text):
        run_phrases, run_numbers = _read_run(run)
        phrases.extend(run_phrases)
        numbers.extend(run_numbers)
    return phrases + _digit_sequences(text, numbers)


def _read_run(run: list[_Word]) -> tuple[list[NumberPhrase], list["_Number"]]:
    numbers: list[tuple[_Number, int, int]] = []  # (number, first word, last word)
    current: _Number | None = None
    first = last = 0
    pending = ""  # a separate connector word seen after the current number

    def close() -> None:
        nonlocal current
        if current is not None:
            numbers.append((current, first, last))
            current = None

    for index, word in enumerate(run):
        token = word.text
        connector = word.connector or pending
        if token in CONNECTORS and current is not None and not word.connector:
            pending = token
            continue
        pending = ""
        entry = _WORDS.get(token)
        if entry is None:
            close()
            continue
        cls, value = entry
        if cls == ARTICLE:
            cls = _article_class(run, index, current, connector)
            if not cls:
                close()
                continue
        if current is not None and _extends(current, cls, value, connector):
            _apply(current, cls, value)
            current.end = word.end
            last = index
            continue
        close()
        current = _Number(word.start, word.end)
        first = last = index
        _apply(current, cls, value)
    close()
    return _with_fractions(run, numbers), [number for number, _first, _last in numbers]


def _article_class(run: list[_Word], index: int, current: "_Number | None", connector: str) -> str:
    """What "a", "an", "un", "une" are here: the digit one inside a number ("vingt et
    un") or before another digit (spelled digits "un, cinq"), an article standing for one
    before hundred/scale/fraction words ("a hundred", "un tiers"), else no number."""
    if current is not None and _extends(current, DIGIT, 1, connector):
        return DIGIT
    following = run[index + 1].text if index + 1 < len(run) else ""
    following_class = _WORDS.get(following, ("", 0))[0]
    if following_class in (HUNDRED, SCALE) or following in DENOMINATORS:
        return ARTICLE
    if run[index].text in ("un", "une") and following_class == DIGIT:
        return DIGIT
    after = run[index + 2].text if index + 2 < len(run) else ""
    if following in CONNECTORS and after in _MIXED:
        return DIGIT  # "un et demi"
    return ""


def _with_fractions(
    run: list[_Word], numbers: list[tuple[_Number, int, int]]
) -> list[NumberPhrase]:
    """Phrases for the integers read from `run`, and the fractions, decimals, mixed
    numbers, negatives and digit-by-digit spellings they take part in."""
    phrases: list[NumberPhrase] = []
    starts = {first: (number, last) for number, first, last in numbers}
    for number, first, last in numbers:
        value = Fraction(number.value)
        start, end = number.start, number.end
        weak = number.words == 1 and (number.value <= 3 or run[first].text in _AMBIGUOUS)
        values = {value}
        after = last + 1
        nxt = run[after].text if after < len(run) else ""
        mixed = nxt in CONNECTORS or (after < len(run) and run[after].connector)
        if mixed:
            # "one and a half", "uno y medio", "واحد ونصف"
            offset = after + 1 if nxt in CONNECTORS else after
            if offset < len(run) and run[offset].text in ("a", "un", "une", "una"):
                offset += 1
            if offset < len(run) and run[offset].text in _MIXED:
                values = {value + _MIXED[run[offset].text]}
                end, weak = run[offset].end, False
        elif nxt in DENOMINATORS and number.value > 0:
            denominator = DENOMINATORS[nxt]
            values = {value / denominator}
            if nxt in ("خمس",):
                values.add(value)
            end, weak = run[after].end, False
        elif nxt in DECIMAL_POINTS and after + 1 in starts:
            digits, end = _decimal_digits(run, starts, after + 1)
            if digits:
                values = {value + Fraction(int(digits), 10 ** len(digits))}
                weak = False
        if first > 0 and run[first - 1].text in NEGATIVES:
            values |= {-v for v in values}
            start = run[first - 1].start
        phrases.append(NumberPhrase(start, end, frozenset(values), weak))
    for word in run:
        if word.text in _DUALS:
            phrases.append(NumberPhrase(word.start, word.end, frozenset({_DUALS[word.text]})))
        elif word.text in _STANDALONE_FRACTIONS:
            phrases.append(
                NumberPhrase(word.start, word.end, frozenset({_STANDALONE_FRACTIONS[word.text]}))
            )
    return phrases


def _decimal_digits(
    run: list[_Word], starts: dict[int, tuple[_Number, int]], index: int
) -> tuple[str, int]:
    """The digits after a decimal point word: "seven five" → "75", "setenta y cinco" → "75"."""
    digits = ""
    end = 0
    while index in starts:
        number, last = starts[index]
        if number.single_digits and number.words == 1:
            digits += str(number.value)
        elif not digits:
            return str(number.value), number.end
        else:
            break
        end = number.end
        index = last + 1
    return digits, end


_ONE_WORD = re.compile(r"[\s,\-]*(\w+)[\s,\-]*")


def _digit_sequences(text: str, numbers: list[_Number]) -> list[NumberPhrase]:
    """Two or more single digits in a row ("one five", "uno, cinco") read as one number,
    with at most one decimal point word among them ("zero, point, seven, five")."""
    phrases = []
    sequence: list[_Number] = []
    point_at: int | None = None  # digits before the decimal point word

    def close() -> None:
        if len(sequence) >= 2:
            digits = "".join(str(n.value) for n in sequence)
            if point_at is not None and 0 < point_at < len(digits):
                digits = digits[:point_at] + "." + digits[point_at:]
            phrases.append(
                NumberPhrase(sequence[0].start, sequence[-1].end, frozenset({Fraction(digits)}))
            )

    for number in numbers:
        is_digit = number.single_digits and number.words == 1
        between = text[sequence[-1].end : number.start] if sequence else ""
        adjacent = bool(sequence) and re.fullmatch(r"[\s,\-]*", between)
        word_between = _ONE_WORD.fullmatch(between)
        pointed = (
            bool(sequence)
            and point_at is None
            and word_between is not None
            and word_between.group(1) in DECIMAL_POINTS
        )
        if is_digit and (adjacent or pointed or not sequence):
            if pointed:
                point_at = len(sequence)
            sequence.append(number)
            continue
        close()
        sequence = [number] if is_digit else []
        point_at = None
    close()
    return phrases


_SPELLED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][\s\-.·*]{1,2}){2,}[^\W\d_](?![^\W\d_])")


def join_spelled_letters(text: str) -> str:
    """ "f-i-f-t-e-e-n" or "q u i n c e" → "fifteen"/"quince" (same length padding kept
    out: the result is for reading numbers, not for spans)."""
    return _SPELLED.sub(lambda m: re.sub(r"[\s\-.·*]", "", m.group(0)), text)
