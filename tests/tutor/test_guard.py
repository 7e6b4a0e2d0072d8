# ruff: noqa: RUF001 - Arabic digits and letters in test texts, by design
"""The answer-leak guard (tutor.guard) on its own: each form of each kind of answer, in
English, Spanish, French and Arabic, no false alarms on givens and Socratic questions,
and the stream gate holding back an answer split across deltas."""

import pytest

from tutor.guard import Leak, LeakGuard, StreamGate


def numeric(value, prompt, tolerance="0", **extra):
    return {
        "kind": "numeric",
        "source_language": "en",
        "prompt": prompt,
        "solution": extra.pop("solution", {}),
        "rubric": {},
        "answer": {"value": value, "tolerance": tolerance, "relative": False, "unit": ""},
        "choices": [],
        "hints": [{"en": "Add the numerators."}],
        "skills": ["a"],
    }


FRACTION = numeric(
    "0.75",
    {
        "en": "What is $\\frac{1}{4} + \\frac{2}{4}$ as a decimal?",
        "es": "¿Cuánto es $\\frac{1}{4} + \\frac{2}{4}$ en decimal?",
    },
)
EQUATION = numeric(
    "5",
    {
        "en": "Solve 3x + 7 = 22.",
        "es": "Resuelve 3x + 7 = 22.",
        "fr": "Résous 3x + 7 = 22.",
        "ar": "حل المعادلة 3x + 7 = 22.",
    },
    solution={
        "en": "Subtract 7 from both sides to get 3x = 15, then divide both sides by 3 "
        "to get x = 5, which checks out since 3 times 5 plus 7 is 22."
    },
)
# The answer (5) is also a given.
COINCIDING = numeric("5", {"en": "Solve 2x + 5 = 15."})
EXPRESSION = {
    "kind": "expression",
    "prompt": {"en": "Factor 2x + 2.", "fr": "Factorise 2x + 2."},
    "answer": {"expected": "2(x+1)"},
    "choices": [],
    "hints": [],
    "solution": {},
}
EXPAND = {
    "kind": "expression",
    "prompt": {"en": "Expand 2(x + 1)."},
    "answer": {"expected": "2x+2"},
    "choices": [],
}
CHOICE = {
    "kind": "single_choice",
    "prompt": {"en": "Which fraction equals one half?", "es": "¿Qué fracción es un medio?"},
    "answer": {},
    "choices": [
        {"text": {"en": "1/3", "es": "1/3"}, "is_correct": False},
        {"text": {"en": "2/4", "es": "2/4"}, "is_correct": True},
        {"text": {"en": "3/4", "es": "3/4"}, "is_correct": False},
    ],
}
CAPITALS = {
    "kind": "single_choice",
    "prompt": {"en": "What is the capital of Peru?"},
    "answer": {},
    "choices": [
        {"text": {"en": "Quito"}, "is_correct": False},
        {"text": {"en": "Lima", "es": "Lima"}, "is_correct": True},
        {"text": {"en": "Bogotá"}, "is_correct": False},
    ],
}
SHORT = {
    "kind": "short_text",
    "prompt": {
        "en": "Which gas do plants take in?",
        "fr": "Quel gaz les plantes absorbent-elles ?",
    },
    "answer": {"accepted": ["carbon dioxide", "CO2", "dioxyde de carbone"]},
    "choices": [],
}
SHORT_NUMBER = {
    "kind": "short_text",
    "prompt": {"en": "Write 0.75 as a fraction."},
    "answer": {"accepted": ["3/4", "three quarters"]},
}


def leak(snapshot, text):
    return LeakGuard(snapshot).check(text)


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Great question. The answer is 0.75.",
        "Bien. La respuesta es 0,75.",
        "C'est trois quarts.",
        "الجواب هو ٠٫٧٥",  # Arabic-Indic digits, Arabic decimal separator
        "الجواب هو ۰٫۷۵",  # Eastern Arabic-Indic digits
        "It is three quarters.",
        "Son tres cuartos.",
        "إنها ثلاثة أرباع.",
        "That's 3/4 of the pizza.",
        "$\\frac{3}{4}$",
        "6/8",
        "75%",
        "75 por ciento",
        "zero point seven five",
        "cero coma setenta y cinco",
        "zéro virgule soixante-quinze",
        "صفر فاصلة خمسة وسبعون",
    ],
)
def test_every_form_of_a_decimal_answer_is_caught(text):
    assert isinstance(leak(FRACTION, text), Leak)


@pytest.mark.parametrize(
    "text",
    [
        "x = 5",
        "So x equals five.",
        "The answer is 5.",
        "x es igual a cinco.",
        "La respuesta es 5.",
        "Donc x vaut cinq.",
        "La réponse est cinq.",
        "الجواب هو خمسة",
        "x = ٥",
        "Spelled out: f-i-v-e.",
        "15/3 = 5",
    ],
)
def test_an_equation_solution_is_caught_in_every_language(text):
    assert leak(EQUATION, text) is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("15", "fifteen"),
        ("15", "quince"),
        ("15", "quinze"),
        ("15", "خمسة عشر"),
        ("15", "one five"),
        ("15", "uno cinco"),
        ("15", "1 5"),
        ("25", "خمسة وعشرون"),
        ("97", "quatre-vingt-dix-sept"),
        ("71", "soixante et onze"),
        ("1500", "1,500"),
        ("1500", "1.500"),
        ("1500", "1 500"),
        ("1500", "mil quinientos"),
        ("1234.5", "1 234,5"),
        ("1.5", "one and a half"),
        ("1.5", "uno y medio"),
        ("-4", "x = -4"),
        ("-4", "minus four"),
    ],
)
def test_numbers_in_words_digits_and_separators(value, text):
    snapshot = numeric(value, {"en": "Compute it."})
    assert leak(snapshot, f"It is {text}.") is not None


def test_a_value_within_tolerance_or_a_rounding_is_the_answer():
    snapshot = numeric("0.6667", {"en": "Write 2/3 as a decimal."}, tolerance="0.001")
    assert leak(snapshot, "It is about 0.667.") is not None
    thirds = numeric("0.666666666667", {"en": "What is 2 divided by 3?"})
    assert leak(thirds, "Roughly 0.67.") is not None


@pytest.mark.parametrize(
    "text",
    [
        "What do you get when you subtract 7 from both sides?",
        "¿Qué obtienes si restas 7 de ambos lados?",
        "Que se passe-t-il si tu soustrais 7 des deux côtés ?",
        "ماذا تحصل عندما تطرح 7 من الطرفين؟",
        "Good: 3x = 15. What is 15 divided by 3?",
        "Now divide both sides by 3. What is 15/3?",
        "You wrote 3x + 7 = 22, which is right. There are two steps left.",
        "Step 1: isolate the term with x.",
        "Look at 3x: what number multiplies x?",
        "Once you subtract 7, what remains?",
    ],
)
def test_givens_and_socratic_questions_are_not_leaks(text):
    assert leak(EQUATION, text) is None


def test_when_the_answer_is_a_given_only_explicit_statements_count():
    assert leak(COINCIDING, "Subtract 5 from both sides: what is 15 - 5?") is None
    assert leak(COINCIDING, "We start from 2x + 5 = 15.") is None
    assert leak(COINCIDING, "So x = 5.") is not None
    assert leak(COINCIDING, "The answer is 5.") is not None
    assert leak(COINCIDING, "(15 - 5)/2 = 5") is not None


def test_small_numbers_unrelated_to_the_answer_are_fine():
    assert leak(FRACTION, "Add the numerators 1 and 2; the denominator 4 stays.") is None
    assert leak(FRACTION, "What is $\\frac{1}{4} + \\frac{2}{4}$? Look at both parts.") is None


def test_a_long_verbatim_run_of_the_worked_solution_is_a_leak():
    text = "Here: subtract 7 from both sides to get 3x = 15, then divide both sides by 3."
    assert leak(EQUATION, text).kind == "solution"


# --- expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "It factors as 2(x + 1).",
        "La réponse est $2 \\cdot (x+1)$.",
        "Es (x+1)*2.",
        "الجواب هو 2(1 + x)",
        "So 2x + 2 = 2(x+1)... wait, it's 2x+2 = (2)(x + 1).",
    ],
)
def test_an_equivalent_expression_is_caught(text):
    assert leak(EXPRESSION, text) is not None


def test_the_prompts_own_expression_is_not_a_leak_but_the_expanded_form_is():
    assert leak(EXPAND, "What do you get when you multiply out 2(x + 1)?") is None
    assert leak(EXPAND, "Multiply: you get 2x + 2.") is not None
    assert leak(EXPAND, "C'est $2x+2$.") is not None
    assert leak(EXPRESSION, "What is the common factor of 2x and 2?") is None
    assert leak(EXPRESSION, "Can you take 2 out of 2x + 2?") is None


def test_untrusted_math_in_a_reply_never_hangs():
    nasty = "x = " + "((((" * 30 + "x" + "))))" * 30 + " and 9^9^9^9^9 and e^e^e^e^x. " * 5
    result = LeakGuard(EXPRESSION).check(nasty)
    assert result is None or result.kind in ("expression", "unchecked")


# --- choices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The correct answer is B.",
        "Pick option (b).",
        "La respuesta correcta es la B.",
        "C'est la B.",
        "It's the second one.",
        "Es la segunda.",
        "C'est la deuxième proposition.",
        "الخيار الثاني هو الصحيح",
        "الجواب هو الخيار ب",
        "It's 2/4.",
    ],
)
def test_the_correct_choice_is_caught_by_letter_ordinal_or_text(text):
    assert leak(CHOICE, text) is not None


def test_choice_text_is_caught_and_neutral_comparisons_are_not():
    assert leak(CAPITALS, "The capital is Lima.") is not None
    assert leak(CAPITALS, "Es LIMA, claro.") is not None
    assert leak(CAPITALS, "Compare Quito, Lima and Bogotá: which is in Peru?") is None
    assert leak(CHOICE, "Compare options A and B: which one simplifies to 1/2?") is None
    assert leak(CHOICE, "A fraction names equal parts. Which one is half?") is None


# --- short text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Plants take in Carbon Dioxide.",
        "Les plantes absorbent le dioxyde de carbone.",
        "It's CO2!",
    ],
)
def test_accepted_short_answers_are_caught_case_and_accent_insensitively(text):
    assert leak(SHORT, text) is not None


def test_a_short_text_answer_that_is_a_number_is_caught_as_a_number():
    assert leak(SHORT_NUMBER, "It is three quarters.") is not None
    assert leak(SHORT_NUMBER, "Think of 75 hundredths: can you simplify?") is None
    assert leak(SHORT, "What do plants breathe in, do you think?") is None


# --- the stream gate ------------------------------------------------------------------------


def run_gate(snapshot, deltas):
    gate = StreamGate(LeakGuard(snapshot))
    shown = [gate.feed(delta) for delta in deltas]
    if not gate.leaked:
        shown.append(gate.finish())
    return "".join(shown), gate.leaked


def test_an_answer_split_across_deltas_never_reaches_the_student():
    fifteen = numeric("15", {"en": "What is 3 times 5?"})
    shown, leaked = run_gate(fifteen, ["Good work so far. ", "The answer is 1", "5", "."])
    assert shown == "Good work so far. "
    assert leaked is not None
    shown, leaked = run_gate(EQUATION, ["Good work so far. ", "x = ", "5", ". Next!"])
    assert shown == "Good work so far. "
    assert leaked is not None
    shown, leaked = run_gate(FRACTION, ["Nice. It is 0.", "75", " exactly"])
    assert "0." not in shown
    assert leaked is not None


def test_a_number_is_never_cut_at_its_decimal_point():
    gate = StreamGate(LeakGuard(FRACTION))
    assert gate.feed("Think about it. Is it 0.") == "Think about it. "
    assert gate.feed("7") == ""
    assert gate.feed("5?") == ""
    assert gate.finish() == ""
    assert gate.leaked is not None


def test_a_clean_reply_is_released_whole_sentence_by_sentence():
    gate = StreamGate(LeakGuard(EQUATION))
    assert gate.feed("What do you get ") == ""
    assert gate.feed("when you subtract 7? Then") == "What do you get when you subtract 7? "
    assert gate.feed(" divide.") == ""
    assert gate.finish() == "Then divide."
    assert gate.leaked is None


def test_after_a_leak_nothing_more_is_released():
    gate = StreamGate(LeakGuard(EQUATION))
    assert gate.feed("x = 5. ") == ""
    assert gate.feed("Anything else. ") == ""
    assert gate.finish() == ""
    assert str(gate.leaked) == "number: 5"
