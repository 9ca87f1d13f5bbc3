"""Manners (issue 11.5) and safe refusals (11.6): short replies from YAML, never guide facts,
never the generic refusal, never deletion buttons for a hacked account."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.knowledge import Knowledge
from bot.signals import Signals, talk_key
from bot.types import Answer
from tests.conftest import Person


def talk(knowledge: Knowledge, kind: str, lang: str) -> str:
    return next(t.reply for t in knowledge.pack(lang).smalltalk if t.id == kind)


def refusal(knowledge: Knowledge, kind: str, lang: str) -> str:
    """A refusal kind's reply as sent: its "{link}" is the support link."""
    reply = next(r.reply for r in knowledge.pack(lang).refusals if r.id == kind)
    return reply.replace("{link}", knowledge.ui("support_link", lang))


@pytest.mark.parametrize(
    ("said", "kind", "lang"),
    [
        ("hi", "greeting", "en"),
        ("Hello!", "greeting", "en"),
        ("thanks", "thanks", "en"),
        ("bye", "goodbye", "en"),
        ("yes", "yes", "en"),
        ("no", "no", "en"),
        ("ok", "ok", "en"),
        ("are you a bot?", "bot", "en"),
        ("who made you", "creator", "en"),
        ("hola", "greeting", "es"),
        ("¡Muchas gracias!", "thanks", "es"),
        ("adiós", "goodbye", "es"),
        ("¿eres un bot?", "bot", "es"),
        ("merci", "thanks", "fr"),
        ("that's not what I asked", "complaint", "en"),  # was step 4, confidently
        ("wrong answer", "complaint", "en"),
        ("hello, I need help", "greeting", "en"),  # was the refusal
        ("respuesta equivocada", "complaint", "es"),
    ],
)
async def test_smalltalk_gets_its_own_short_reply(
    person: Person, knowledge: Knowledge, said: str, kind: str, lang: str
) -> None:
    replies = await person.say(said, locale=lang)  # the app language, as platforms send it
    assert [r.text for r in replies] == [talk(knowledge, kind, lang)]
    assert knowledge.ui("fallback", lang) not in person.text()
    assert not replies[0].buttons  # no guide topics pushed


async def test_greeting_then_question_answers_the_question(person: Person) -> None:
    await person.say("hi, how long does deletion take?")
    assert "24 hours" in person.text()
    await person.say("hola, ¿cuánto tarda la eliminación?")
    assert "24 horas" in person.text()


async def test_walkthrough_words_still_win_in_a_walkthrough(
    person: Person, knowledge: Knowledge
) -> None:
    await person.say("/walkthrough")
    await person.say("ok")  # "done" in a checklist
    assert "check 2 of 4" in person.text()
    await person.say("no")  # "stop here" in a checklist: sort it out first, place kept
    assert person.text() == knowledge.ui("checklist_stopped", "en")
    assert person.button("Done")  # nothing to sort out ("no funds to withdraw"): carry on
    await person.say("/walkthrough")
    assert "check 2 of 4" in person.text()  # where it stopped, not the first check again
    await person.say("sí")
    assert "3 of 4" in person.text() or "3 de 4" in person.text()


async def test_thanks_mid_walkthrough_keeps_the_place(person: Person, knowledge: Knowledge) -> None:
    await person.say("/walkthrough")
    await person.say("thanks")
    assert person.last[0].text == talk(knowledge, "thanks", "en")
    assert "check 1 of 4" in person.text()  # "you're still on check 1 of 4"


@pytest.mark.parametrize(
    ("said", "kind", "lang"),
    [
        ("my account was hacked", "hacked", "en"),
        ("Someone logged into my account!", "hacked", "en"),
        ("delete my ebay account", "other_site", "en"),
        ("my order never arrived", "order_problem", "en"),
        ("me hackearon la cuenta", "hacked", "es"),
        ("eliminar mi cuenta de ebay", "other_site", "es"),
        ("mi pedido nunca llegó", "order_problem", "es"),
        # "wish" is a word in English ("i wish to close my account"), a site's name elsewhere
        ("как мне удалить профиль на wish", "other_site", "ru"),
        ("je veux fermer mon compte wish", "other_site", "fr"),
        # the guide names no fee: no answer about the waiting time or what AliExpress is
        ("how much does it cost to delete my account?", "cost", "en"),
        ("is it free to close it", "cost", "en"),
        ("¿cuánto cuesta darme de baja?", "cost", "es"),
        ("сколько стоит удалить аккаунт", "cost", "ru"),
        # the bot cannot touch anyone's account: it says so, and that only they can
        ("could you close my account for me? my login is bob77", "do_it_for_me", "en"),
        ("please deactivate it on my behalf", "do_it_for_me", "en"),
        ("bórrala por mí, porfa", "do_it_for_me", "es"),
        ("supprimez-le à ma place", "do_it_for_me", "fr"),
        ("apague minha conta pra mim", "do_it_for_me", "pt"),
        ("удалите его за меня пожалуйста", "do_it_for_me", "ru"),
        # the guide only covers closing it for good: no deletion steps for a pause
        ("can I freeze my account instead?", "pause_account", "en"),
        ("how do I deactivate it temporarily", "pause_account", "en"),
        ("¿puedo congelar mi cuenta?", "pause_account", "es"),
        ("можно временно отключить аккаунт?", "pause_account", "ru"),
        # from a fourth exploratory test (2026-12-04): where the guide stops, say so and
        # send them to customer support, rather than the answer they already had
        ("how do I contact aliexpress customer service?", "contact_support", "en"),
        ("como falar com o suporte", "contact_support", "pt"),
        ("куда писать в поддержку?", "contact_support", "ru"),
        ("i deleted my account but i'm still being charged", "cost", "en"),
        ("с меня продолжают списывать деньги", "cost", "ru"),
    ],
)
async def test_refusal_kinds_reply_with_their_own_text(
    person: Person, knowledge: Knowledge, said: str, kind: str, lang: str
) -> None:
    replies = await person.say(said)
    assert [r.text for r in replies] == [refusal(knowledge, kind, lang)]
    assert not replies[0].buttons  # nothing that leads to deleting the account


@pytest.mark.parametrize(
    ("said", "entry", "kind", "lang"),
    [
        ("I clicked the red button 3 days ago and the email never came", "processing_time",
         "email_missing", "en"),
        ("no me llegó el correo de confirmación, es normal?", "processing_time", "email_missing",
         "es"),
        ("письмо так и не пришло уже 2 дня", "processing_time", "email_missing", "ru"),
        ("i forgot my password and don't have access to that email", "forgot_password",
         "email_lost", "en"),
        ("je n'ai plus accès à mon mail", "forgot_password", "email_lost", "fr"),
        ("the password reset email never arrives", "forgot_password", "email_lost", "en"),
        ("how do i withdraw money from my wallet", "wallet_funds", "withdraw_how", "en"),
        ("tengo 5 euros en la billetera, como los saco?", "wallet_funds", "withdraw_how", "es"),
        # what the guide answers whole is not sent to support
        ("will I get a confirmation email?", "processing_time", None, "en"),
        ("do I need to withdraw my wallet money before deleting?", "wallet_funds", None, "en"),
    ],
)  # fmt: skip
async def test_where_the_guide_stops_its_answer_comes_first_then_support(
    person: Person, knowledge: Knowledge, said: str, entry: str, kind: str | None, lang: str
) -> None:
    """A refusal kind with `answer_with`: the entry's answer, then the kind's reply with the
    support link (the waiting time, then the spam folder and customer support)."""
    [reply, *_] = await person.say(said)
    assert knowledge.entry(entry, lang).title in reply.text
    if kind is None:
        assert "https://customerservice.aliexpress.com/" not in reply.text
    else:
        assert refusal(knowledge, kind, lang) in reply.text


@pytest.mark.parametrize(
    "kind", ["hacked", "order_problem", "email_missing", "email_lost", "contact_support"]
)
async def test_refusals_that_send_people_to_support_link_it(
    knowledge: Knowledge, kind: str
) -> None:
    for lang in knowledge.languages:
        assert "https://customerservice.aliexpress.com/" in refusal(knowledge, kind, lang), lang


@pytest.mark.parametrize(
    ("said", "entry", "lang"),
    [
        ("will I lose the money in my wallet, does it cost me?", "wallet_funds", "en"),
        ("стоит ли удалять аккаунт", "reasons_to_leave", "ru"),  # "стоит ли": is it worth it
    ],
)
async def test_money_the_account_holds_is_no_fee(
    person: Person, knowledge: Knowledge, said: str, entry: str, lang: str
) -> None:
    replies = await person.say(said)
    assert knowledge.entry(entry, lang).title in replies[0].text


@pytest.mark.parametrize(
    ("said", "lang"),
    [
        ("how can I shut my gmail down for good", "en"),
        ("I want my hotmail address gone", "en"),
        ("quiero cerrar mi correo de yahoo", "es"),
        ("как удалить ящик gmail", "ru"),
    ],
)
async def test_an_email_account_to_close_is_not_aliexpress(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    replies = await person.say(said)
    assert [r.text for r in replies] == [refusal(knowledge, "email_account", lang)]


@pytest.mark.parametrize(
    ("said", "entry"),
    [
        ("after deleting, could I register again using my gmail?", "reopen_account"),
        ("my aliexpress login is a yahoo address and I forgot the password", "forgot_password"),
        (
            "I submitted it yesterday, will the confirmation email reach my hotmail?",
            "processing_time",
        ),
    ],
)
async def test_an_email_address_of_the_aliexpress_account_is_no_other_site(
    person: Person, knowledge: Knowledge, said: str, entry: str
) -> None:
    """Gmail named as the address the AliExpress account uses, not as the thing to close: the
    guide's answer, not the email-provider refusal (was: every mention of gmail refused)."""
    await person.say(said)
    assert knowledge.entry(entry).title in person.text()


async def test_a_verdict_from_the_matcher_is_used_as_is(knowledge: Knowledge) -> None:
    """The interface the matcher fills in: Answer.smalltalk / Answer.refusal win."""
    engine = Engine(knowledge)
    said = engine.read("thanks", "en", None)
    assert said == Answer(None, 1.0, (), "en", smalltalk="thanks")
    _, reply = engine.ask("my account was hacked")
    assert reply.text == refusal(knowledge, "hacked", "en") and not reply.buttons
    answer, reply = engine.ask("hi")
    assert answer.smalltalk == "greeting" and answer.entry_id is None


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("how do i delete my account", "delete_account"),
        ("how do I close my account?", "delete_account"),
        ("how long does it take to delete my account", "processing_time"),
    ],
)
async def test_the_core_questions_are_never_mistaken_for_another_site(
    person: Person, knowledge: Knowledge, text: str, entry: str
) -> None:
    """A refusal kind's example that differs by one word ("my ebay account") must not swallow
    the question the bot exists for."""
    await person.say(text)
    assert knowledge.entry(entry).title in person.text()


def examples(knowledge: Knowledge) -> dict[str, str]:
    """Every small-talk example, as compared, with its item."""
    return {
        talk_key(text): item.id
        for lang in knowledge.languages
        for item in knowledge.pack(lang).smalltalk
        for text in item.examples
    }


@pytest.mark.parametrize(
    ("said", "kind", "parts"),
    [
        ("hey there!", "greeting", ("hey", "hello there")),
        ("chao, hasta luego", "goodbye", ("chao", "hasta luego")),
        ("thank you so much mate", "thanks", ("thank you so much", "thanks mate")),
    ],
)
def test_an_example_said_with_more_of_its_own_words_is_that_small_talk(
    knowledge: Knowledge, said: str, kind: str, parts: tuple[str, ...]
) -> None:
    known = examples(knowledge)
    assert talk_key(said) not in known  # not an example itself...
    assert all(known.get(part) == kind for part in parts)  # ...but made of this item's examples
    assert Signals(knowledge).talk(said) == kind


@pytest.mark.parametrize(
    "said",
    [
        "thanks, how do i delete my account",  # a question after thanks is the question
        "hello my wallet money",  # a word of no small-talk example
        "hi hi hi hi hi hi",  # longer than small talk is read as words
    ],
)
def test_only_short_messages_of_one_items_words_are_small_talk(
    knowledge: Knowledge, said: str
) -> None:
    assert Signals(knowledge).talk(said) is None


@pytest.mark.parametrize(
    ("said", "entry"),
    [
        # doing it oneself is the guide's answer, not a request to the bot
        ("can I delete my aliexpress account myself or does someone have to do it for me",
         "delete_account"),
        ("my son set up this account for me, how do i close it", "delete_account"),
    ],
)  # fmt: skip
async def test_asking_how_to_do_it_yourself_is_not_asking_the_bot(
    person: Person, knowledge: Knowledge, said: str, entry: str
) -> None:
    replies = await person.say(said)
    assert knowledge.entry(entry, "en").title in replies[0].text


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ("thnak you so much", "thanks"),  # a typo of an example
        ("you re so useles", "complaint"),
        ("are you a robott?", "bot"),
        ("merci beaucoup pour ton aide!!", "thanks"),
    ],
)
async def test_a_short_message_nearly_a_small_talk_example_gets_its_reply(
    person: Person, knowledge: Knowledge, said: str, kind: str
) -> None:
    lang = "fr" if "merci" in said else "en"
    replies = await person.say(said)
    assert [r.text for r in replies] == [talk(knowledge, kind, lang)]


def test_a_question_never_becomes_near_small_talk(knowledge: Knowledge) -> None:
    """Only a message without an answer is compared with the small-talk examples."""
    from bot.matcher import Matcher

    matcher = Matcher(knowledge)
    assert matcher.match("thank you, how long does it take", "en").entry_id == "processing_time"
    assert matcher.match("how long", "en").smalltalk is None
    assert Signals(knowledge).talk_near("ok") is None  # too short to tell from "no"


@pytest.mark.parametrize(
    ("said", "entry", "lang"),
    [
        ("do i log in on the website or the app to do this", "step_login", "en"),
        ("i cant see the deactivate button, im using the app on my phone", "step_deactivate", "en"),
        ("не вижу кнопку деактивировать, у меня приложение на телефоне", "step_deactivate", "ru"),
    ],
)
async def test_a_question_naming_the_app_gets_its_answer_and_the_app_note(
    person: Person, knowledge: Knowledge, said: str, entry: str, lang: str
) -> None:
    """The `app` kind is a note to any answer (`adds_to: answers`): the guide describes the
    website, which the person on the app needs to hear beside the step."""
    [reply, *_] = await person.say(said)
    offered = [button.label for row in reply.buttons for button in row]
    assert knowledge.entry(entry, lang).title in reply.text + " ".join(offered)  # or did you mean
    assert refusal(knowledge, "app", lang) in reply.text


@pytest.mark.parametrize(
    ("said", "lang"), [("is it the same on the app?", "en"), ("а в приложении так же?", "ru")]
)
async def test_asking_only_about_the_app_gets_the_app_note(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    await person.say("/language " + lang)
    replies = await person.say(said)
    assert refusal(knowledge, "app", lang) in replies[0].text


@pytest.mark.parametrize(
    "said",
    [
        "how do i track my parcel in the app",
        "how do i uninstall the aliexpress app",
        "how do i delete my account",
    ],
)
async def test_the_app_note_is_not_added_where_it_does_not_belong(
    person: Person, knowledge: Knowledge, said: str
) -> None:
    replies = await person.say(said)
    assert refusal(knowledge, "app", "en") not in replies[0].text


@pytest.mark.parametrize(
    ("said", "lang"),
    [("ya no quiero borrarla", "es"), ("я передумал", "ru"), ("i changed my mind", "en")],
)
async def test_keeping_the_account_outside_a_walkthrough_is_no_deletion_steps(
    person: Person, knowledge: Knowledge, said: str, lang: str
) -> None:
    """From a fourth exploratory test: "I don't want to delete it any more" got the deletion
    steps. Now: nothing to do, the account stays as it is (`keep_outside`)."""
    await person.say("/language " + lang)
    replies = await person.say(said)
    assert [r.text for r in replies] == [knowledge.ui("keep_outside", lang)]
