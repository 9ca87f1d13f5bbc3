"""What people type in a walkthrough in their own words, from a third exploratory test
(2026-12-03, evening): yes and no said in a sentence, "I'm stuck" said in a sentence, a
question about another step that must not move, "what now?" at the warning, and a "yes" to
the offer said with a polite word."""

from __future__ import annotations

import pytest

from bot.knowledge import Knowledge
from tests.conftest import Person
from tests.test_context import position
from tests.test_walkthrough_words import on_step, where


async def ended(person: Person) -> bool:
    """Whether the person is in no walkthrough (no session row, or one without a place)."""
    session = await person.engine.store.get(f"{person.platform}:{person.chat}:{person.user}")
    return session is None or session.mode is None


async def at_warning(person: Person) -> None:
    await on_step(person, 4)
    await person.say("next")
    assert where(person) == "warning"


@pytest.mark.parametrize(
    "said",
    [
        "of course",
        "yes I'm ok with that",
        "of course I did",
        "i understand that it's permanent",
        "hmm ok fine i accept",
        "bien sûr",
        "конечно",
        "com certeza",
        "claro que sí",
    ],
)
async def test_a_yes_in_own_words_at_a_check_is_done(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert any(f"2 {of} 4" in person.text() for of in ("of", "de", "sur", "из")), person.text()


@pytest.mark.parametrize(
    "said", ["no im not ok with that", "nah", "not really", "pas d'accord", "не устраивает"]
)
async def test_a_no_in_own_words_at_a_check_keeps_the_place(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert where(person) != "check 2"
    await person.say("/walkthrough")  # where am I?
    assert any(f"1 {of} 4" in person.text() for of in ("of", "sur", "из"))


async def test_no_at_the_reopening_check_gets_its_own_reply(
    person: Person, knowledge: Knowledge
) -> None:
    await person.say("/walkthrough")
    await person.say("skip to check 4")
    await person.say("no")
    reply = person.text()
    item = knowledge.walkthrough("en").checklist[-1]
    assert item.if_no and item.if_no.split(":")[0] in reply
    assert "sort that out" not in reply  # the generic reply is for checks 1-3
    await person.say("done")
    assert where(person) == "step 1"


async def test_no_at_the_other_checks_gets_the_generic_reply(person: Person) -> None:
    await person.say("/walkthrough")
    await person.say("no")
    assert "sort that out first" in person.text()


@pytest.mark.parametrize("said", ["idk", "hmm im not sure", "je sais pas"])
async def test_not_knowing_keeps_the_place(person: Person, said: str) -> None:
    await at_warning(person)
    await person.say(said)
    assert "still on" in person.text() or "toujours" in person.text()
    assert await position(person) == ("confirm", "submit")


@pytest.mark.parametrize("said", ["what now?", "and then?", "et maintenant ?", "и что теперь?"])
async def test_what_now_at_the_warning_shows_the_warning_again(person: Person, said: str) -> None:
    await at_warning(person)
    await person.say(said)
    assert await position(person) == ("confirm", "submit")


@pytest.mark.parametrize(
    ("step", "said"),
    [(2, "whats a member id"), (3, "how do I choose a reason"), (4, "is the button red")],
)
async def test_a_question_about_the_next_step_keeps_the_place(
    person: Person, step: int, said: str
) -> None:
    await on_step(person, step)
    await person.say(said)
    assert "still on" in person.text()
    await person.say("repeat")
    assert where(person) == f"step {step}"


@pytest.mark.parametrize(
    "said",
    [
        "nothing works im stuck",
        "i cant find the deactivate button",
        "i give up this doesnt work",
        "me rindo, no me funciona nada",
        "ничего не работает, я застрял",
    ],
)
async def test_trouble_said_in_a_sentence_gets_the_trouble_reply(person: Person, said: str) -> None:
    await on_step(person, 3)
    await person.say(said)
    assert "customerservice.aliexpress.com" in person.text()
    await person.say("ok")  # acknowledges the help: the step again, not step 4
    assert where(person) == "step 3"


async def test_a_question_with_a_trouble_phrase_is_still_a_question(
    person: Person, knowledge: Knowledge
) -> None:
    await on_step(person, 1)
    await person.say("where are the account settings? I can't see them")
    assert knowledge.entry("step_settings", "en").title in person.text()
    assert "still on" in person.text()


async def test_stuck_outside_a_walkthrough_asks_which_step(person: Person) -> None:
    await person.say("im stuck")
    text = person.text()
    assert "Which step" in text and "customerservice.aliexpress.com" in text
    assert "Step 4" not in text


@pytest.mark.parametrize(
    "said",
    [
        "show me step by step",
        "help me do it one step at a time",
        "accompagne moi étape par étape",
        "bueno, entonces paso a paso",
        "давай по шагам",
    ],
)
async def test_asking_to_be_guided_starts_the_walkthrough(person: Person, said: str) -> None:
    await person.say(said)
    assert await position(person) == ("checklist", "orders")


async def test_a_topic_step_by_step_is_still_that_topic(
    person: Person, knowledge: Knowledge
) -> None:
    await person.say("how do i log in step by step")
    assert knowledge.entry("step_login", "en").title in person.text()
    assert where(person) != "check 1"


@pytest.mark.parametrize(
    ("first", "yes"),
    [
        ("comment supprimer mon compte", "oui svp"),
        ("necesito cerrar mi cuenta de aliexpress", "sí porfa"),
        ("как удалить аккаунт", "да, давайте"),
        ("excluir conta", "bora"),
    ],
)
async def test_a_yes_with_a_polite_word_accepts_the_offer(
    person: Person, first: str, yes: str
) -> None:
    await person.say(first)
    await person.say(yes)
    assert await position(person) == ("checklist", "orders")


@pytest.mark.parametrize("said", ["по-английски пожалуйста", "на английском пожалуйста"])
async def test_english_asked_for_in_russian(person: Person, said: str) -> None:
    await person.say("привет")
    await person.say(said)
    assert "English" in person.text()
    await person.say("how long does it take")
    assert "24 hours" in person.text()


@pytest.mark.parametrize(
    "said",
    [
        "actually nevermind i'll keep it",
        "desisti, vou manter a conta",
        "mejor no, decidí quedarme con la cuenta",
    ],
)
async def test_keeping_the_account_said_in_a_sentence_ends_the_walkthrough(
    person: Person, said: str
) -> None:
    await on_step(person, 1)
    await person.say(said)
    assert await ended(person)


async def test_a_question_about_changing_one_s_mind_does_not_end_it(person: Person) -> None:
    await on_step(person, 4)
    await person.say("I changed my mind about the reason, can I pick another?")
    assert await position(person) == ("steps", "reason")


async def test_french_moves_said_as_sentences(person: Person) -> None:
    await person.say("guidez-moi")
    await person.say("passer les vérifications")
    await person.say("suivant suivant")
    assert await position(person) == ("steps", "deactivate")
    await person.say("revenir 2 étapes en arrière")
    assert await position(person) == ("steps", "login")
    await person.say("on recommence depuis le début")
    assert await position(person) == ("checklist", "orders")


async def test_a_person_asked_for_in_russian(person: Person) -> None:
    await person.say("хочу поговорить с оператором")
    assert "customerservice.aliexpress.com" in person.text()
    assert "не совсем понял" not in person.text()  # not the fallback


@pytest.mark.parametrize(
    ("message", "titles"),
    [
        (
            "how do i delete my account and how long does it take",
            ("How do I delete my AliExpress account?", "How long does deletion take?"),
        ),
        ("como borro la cuenta y cuanto tarda", ("Cómo elimino mi cuenta", "Cuánto tarda")),
        (
            "как удалить аккаунт и сколько это займёт",
            ("Как удалить аккаунт AliExpress?", "Сколько времени занимает удаление?"),
        ),
    ],
)
async def test_questions_joined_by_and_get_each_answer(
    person: Person, message: str, titles: tuple[str, ...]
) -> None:
    """Only one of them was answered, or a did-you-mean."""
    await person.say(message)
    texts = [reply.text for reply in person.last]
    assert len(texts) == len(titles), texts
    for text, title in zip(texts, titles, strict=True):
        assert title in text, text


async def test_two_questions_about_one_topic_get_its_answer(person: Person) -> None:
    """Both parts ask about the processing time: a did-you-mean with that one option."""
    await person.say(
        "salut, combien de temps ça prend pour supprimer le compte ? et est-ce que je reçois un mail ?"
    )
    assert "24 heures" in person.text()


async def test_and_without_a_second_question_is_one_question(person: Person) -> None:
    await person.say("what happens to my wallet and my orders")
    assert len(person.last) == 1


async def test_a_password_reset_said_done_moves_on(person: Person) -> None:
    """ "ok i reset it" after the forgotten-password help showed that help again."""
    await on_step(person, 1)
    await person.say("I forgot my password")
    await person.say("ok i reset it")
    assert where(person) == "step 2"


async def test_done_after_the_last_step_says_what_comes_next(person: Person) -> None:
    """It got a did-you-mean."""
    await at_warning(person)
    await person.say("yes")
    await person.say("done")
    assert "24 hours" in person.text()  # the walkthrough's closing message
    await person.say("I did it")
    assert "24 hours" in person.text()
    await person.say("ok")  # small talk, not a move
    assert "24 hours" not in person.text()


async def test_where_is_another_step_s_button_answers_it_beside_the_place(person: Person) -> None:
    """ "where do i click deactivate" on step 2 showed step 2 again, as if it asked about it."""
    await on_step(person, 2)
    await person.say("where do i click deactivate")
    assert "still on **step 2 of 5**" in person.text()
    await person.say("where is that button?")  # about this step: the step again
    assert where(person) == "step 2"


@pytest.mark.parametrize("undo", ["undo", "oops i didnt mean to cancel", "back"])
async def test_undo_right_after_a_cancel_goes_back_where_it_was(person: Person, undo: str) -> None:
    """A cancel typed by mistake lost the place, and "undo" answered about reopening."""
    await on_step(person, 3)
    await person.say("cancel")
    await person.say(undo)
    assert await position(person) == ("steps", "deactivate")
    assert where(person) == "step 3"


async def test_undo_only_right_after_the_cancel(person: Person) -> None:
    await on_step(person, 3)
    await person.say("cancel")
    await person.say("how long does it take")
    await person.say("undo")
    assert await ended(person)


async def test_a_cancelled_walkthrough_leaves_no_session_row(person: Person) -> None:
    """The undo a cancel offers is kept in the bot's memory only, so nothing is left."""
    await on_step(person, 2)
    await person.say("cancel")
    assert await person.engine.store.get(f"{person.platform}:{person.chat}:{person.user}") is None
    await person.say("undo")  # still works, from memory
    assert await position(person) == ("steps", "settings")


@pytest.mark.parametrize(
    "said", ["definitely not", "of course not", "claro que no", "no, I haven't received them yet"]
)
async def test_a_no_said_with_a_yes_word_is_no(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert await position(person) == ("checklist", "orders")


@pytest.mark.parametrize(
    "said", ["yes? what do you mean by disputes", "já tentei de tudo", "sí? qué es una disputa"]
)
async def test_a_question_or_trouble_at_a_check_is_not_done(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert await position(person) == ("checklist", "orders")


@pytest.mark.parametrize("said", ["no pending orders", "no tengo nada pendiente", "заказов нет"])
async def test_a_no_that_is_good_news_at_a_check_is_done(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert await position(person) == ("checklist", "history")


@pytest.mark.parametrize(
    ("step", "said", "place"),
    [
        # "did it work?" asks, it says nothing was done
        (3, "deu certo?", "deactivate"),
        (3, "¿funcionó?", "deactivate"),
        (3, "получилось?", "deactivate"),
        # a question naming a step only shows it
        (1, "can I skip step 4?", "login"),
        (1, "o passo 5 é o último?", "login"),
        (1, "шаг 5 последний?", "login"),
        # keep words about something else than the account
        (2, "I'm staying with temu instead", "settings"),
        (2, "i'll keep it in mind", "settings"),
        (2, "ok i changed my mind, i'll go ahead", "settings"),
        (2, "me quedo en este paso un momento", "settings"),
        (2, "je reste sur cette étape", "settings"),
    ],
)
async def test_a_message_that_says_no_move_keeps_the_place(
    person: Person, step: int, said: str, place: str
) -> None:
    await on_step(person, step)
    await person.say(said)
    assert await position(person) == ("steps", place)


@pytest.mark.parametrize("said", ["cancel everything", "cancela todo", "отмени всё"])
async def test_cancel_everything_cancels(person: Person, said: str) -> None:
    await on_step(person, 2)
    await person.say(said)
    assert await ended(person)


async def test_a_topic_step_by_step_does_not_start_the_walkthrough(
    person: Person, knowledge: Knowledge
) -> None:
    await person.say("how do I reset my password step by step")
    assert knowledge.entry("forgot_password", "en").title in person.text()
    assert await ended(person)


async def test_a_move_word_wins_over_a_trouble_phrase(person: Person) -> None:
    await on_step(person, 3)
    await person.say("I don't see any problem, next")
    assert "customerservice.aliexpress.com" not in person.text()


# From a fourth exploratory test (2026-12-04): the checks are yes/no questions, and people
# often answer that there is nothing to sort out; "Good idea to sort that out first" told
# them the opposite of what they said.
@pytest.mark.parametrize(
    ("said", "place"),
    [
        *(
            (said, "history")  # Done: on to check 2
            for said in (
                "I have no pending orders",
                "nope nothing to save",
                "no money in it",
                "wallet is empty",
                "no open disputes",
                "no necesito el historial",
                "no tengo nada en la billetera",
                "rien en attente",
                "j'ai pas besoin de l'historique",
                "não tenho pedidos pendentes",
                "carteira vazia",
                "нет денег там",
                "мне не нужна",
                "pas besoin",  # "pas" alone is a no
                "нет незавершенных заказов",
            )
        ),
        *(
            (said, "orders")  # a no or a not yet: check 1 stays
            for said in (
                "no I haven't",
                "no, I still have money there",
                "nothing yet",
                "нет, денег не снимал",
                "no tengo pedidos todavía",
                "none of my orders came yet",
                "its not empty",  # a state denied (a fifth exploratory test, 2026-12-04)
                "il est pas vide",
                "no esta vacia",
                "он не пустой",
            )
        ),
    ],
)
async def test_nothing_to_sort_out_at_a_check_is_done(
    person: Person, said: str, place: str
) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert await position(person) == ("checklist", place), person.text()


@pytest.mark.parametrize("said", ["no worries", "doesnt matter", "не страшно", "pas grave"])
async def test_it_doesnt_matter_at_the_reopening_check_accepts_it(
    person: Person, said: str
) -> None:
    """Check 4 asks whether not being able to reopen is OK: "no worries" says yes."""
    await person.say("/walkthrough")
    for _ in range(3):
        await person.say("done")
    await person.say(said)
    assert where(person) == "step 1", person.text()


@pytest.mark.parametrize(
    "said", ["i dont wanna delete it anymore", "ya no la quiero eliminar", "jai change davis"]
)
async def test_more_ways_of_keeping_the_account_cancel(person: Person, said: str) -> None:
    await person.say("/walkthrough")
    await person.say(said)
    assert await ended(person), person.text()
