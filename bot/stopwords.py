"""Function words per language. They still count a little when matching (so "what is" and
"how long" keep some meaning), but far less than the words that carry a question's subject.
Negations ("can't", "not") are deliberately absent: "can't log in" is not "log in"."""

from __future__ import annotations

from bot.text import normalize

_WORDS = {
    "en": """a an the to of in on at for from with by about into as is are am be been being was
        were do does did doing done i me my mine myself you your u ur we our us it its this that
        these those there here and or but so if then than just also too very really please pls
        plz thanks thank thx hi hello hey ok okay yes yeah will would should could can im ive id
        ill have has had having get got go going gonna wanna want need needs like some any all
        much many more most up out off over again still now one thing things something stuff he
        she they them his her their whom guys bro
        lol omg hmm um uh well anyway actually know tell""",
    "es": """el la los las un una unos unas de del al a en con por para sobre y o u e que qué
        es son ser estar está están esta este esto eso ese mi mis me tu tus te su sus se lo le
        les yo tú nos hay como cómo cuando cuándo donde dónde cual cuál quiero quisiera puedo
        puede hola gracias por favor porfa pues bueno muy ya también algo tengo tiene hacer hago
        si sí ok vale""",
    "pt": """o a os as um uma uns umas de do da dos das no na nos nas em com por para pelo pela
        e ou que é são ser estar está estão este esta isso esse essa meu minha meus minhas me
        eu você vc voce seu sua se lhe nós tem como quando onde qual quero queria posso pode
        olá ola oi obrigado obrigada por favor pfv então entao bom muito já também tambem algo
        fazer faço sim ok""",
    "ru": """и в во на с со к ко по за из от до у о об а но или что чтобы как когда где какой
        какая какие это этот эта мой моя мои мне меня мы вы ты я он она они его ее её их себя
        свой свою свои же ли бы не ни да нет то так там тут уже еще ещё очень можно нужно надо
        хочу хотел хотела пожалуйста плз спасибо привет здравствуйте ок ну вот просто
        срочно вообще только было быть будет был была буду кое всё все ничего тоже прямо
        типа короче блин даже лишь ведь уж""",
    "fr": """le la les un une des de du au aux à a en dans sur pour par avec et ou que qui quoi
        est sont être suis es mon ma mes me moi je j tu te ton ta tes vous votre vos il elle ils
        elles se sa son ses nous on ce cet cette ces c l d qu y comment quand où ou quel quelle
        quels veux voudrais peux peut bonjour salut merci svp stp s il vous plaît plait alors
        bien très tres déjà aussi faire fait oui ok vraiment quelques presque juste encore
        maintenant tout toute tous toutes rien ça ca cela lui leur leurs sinon donc mais puis
        chose choses truc trucs genre bah ben euh""",
}

STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(normalize(word) for word in words.split()) for lang, words in _WORDS.items()
}
ALL_STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS.values())
