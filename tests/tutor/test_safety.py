"""Screening of chat messages (tutor.safety): each category in the four languages, masks
that keep the rest of the message, and no flags on ordinary maths talk."""

import pytest

from tutor.safety import ABUSE, MASK, PERSONAL_DATA, SELF_HARM, OutgoingCheck, screen


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "sometimes I think about suicide",
        "I'm going to hurt myself tonight",
        "Me quiero morir, no aguanto más",
        "pienso en quitarme la vida",
        "Je veux mourir",
        "j'ai envie de me faire du mal",
        "أريد أن أموت",
        "أفكر في الانتحار",
        "اريد ان اموت",  # without hamza
    ],
)
def test_self_harm_is_recognised_in_each_language(text):
    assert SELF_HARM in screen(text).categories


@pytest.mark.parametrize(
    "text",
    [
        "this is fucking stupid",
        "my dad hits me when I get it wrong",
        "Mi padre me pega",
        "eres un imbécil",
        "Il me frappe",
        "putain de devoir",
        "أبي يضربني",
    ],
)
def test_abuse_and_disclosures_are_flagged(text):
    assert ABUSE in screen(text).categories


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("my number is +34 612 345 678, text me", "my number is "),
        ("appelle-moi au 06 12 34 56 78", "appelle-moi au "),
        ("call 555-123-4567 after school", "after school"),
        ("llámame al 612 345 678", "llámame al "),
        ("write to ana.garcia@example.org please", "please"),
        ("I live at 12 Baker Street", "I live at "),
        ("vivo en Calle Mayor 5, Madrid", "vivo en "),
        ("j'habite 5 rue de la Paix", "j'habite "),
        ("رقمي 0501234567", "رقمي "),
    ],
)
def test_personal_data_is_masked_and_the_rest_kept(text, kept):
    screening = screen(text)
    assert screening.categories == (PERSONAL_DATA,)
    assert MASK in screening.masked
    assert kept in screening.masked
    assert not any(ch.isdigit() for ch in screening.masked.replace(kept, ""))
    assert "@" not in screening.masked


@pytest.mark.parametrize(
    "text",
    [
        "Solve 3x + 7 = 22",
        "I got x = 5, is that right?",
        "3/4 + 1/8 = 7/8",
        "the answer is 123456789",
        "the years 1990 2000 2010 2020",
        "0.5 0.25 0.125",
        "(2x+1)(x-3) = 2x^2 - 5x - 3",
        "I hate fractions, they kill me",
        "La calle es larga",
        "Je ne comprends pas la question 12",
        "حل المعادلة 3س + 7 = 22",
        "I die a little inside every time I see algebra",
    ],
)
def test_ordinary_maths_talk_is_not_flagged(text):
    screening = screen(text)
    assert screening.categories == ()
    assert screening.masked == text


def test_outgoing_check_withholds_a_reply_with_personal_data_or_abuse():
    check = OutgoingCheck()
    assert check.check("Great work! Now try dividing both sides by 3.") is None
    hit = check.check("You can call me at +1 415 555 0100.")
    assert hit is not None
    assert PERSONAL_DATA in hit.categories
    assert "safety:" in str(hit)
