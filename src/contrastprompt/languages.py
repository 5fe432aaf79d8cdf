"""Language names and a small language guess, for adapting prompts across the languages of XCOPA
(ISO 639-1 codes) and SIB-200 (FLORES codes such as `swh_Latn`) and for catching an optimizer
that writes in the wrong one. The guess is deliberately simple: a
script check for languages with their own script, and counts of very common function words
for the Latin-script ones. It is meant for telling English from the target language in a short
instruction, not as general language identification."""

from __future__ import annotations

import re

NAMES = {
    "en": "English",
    "et": "Estonian",
    "ht": "Haitian Creole",
    "id": "Indonesian",
    "it": "Italian",
    "qu": "Quechua",
    "sw": "Swahili",
    "ta": "Tamil",
    "th": "Thai",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "ar": "Arabic",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "pt": "Portuguese",
}
# SIB-200's FLORES codes, each the language of a two-letter code above
FLORES = {
    "arb_Arab": "ar",
    "deu_Latn": "de",
    "eng_Latn": "en",
    "fra_Latn": "fr",
    "hin_Deva": "hi",
    "ind_Latn": "id",
    "por_Latn": "pt",
    "spa_Latn": "es",
    "swh_Latn": "sw",
    "zho_Hans": "zh",
}
SCRIPTS = {
    "ar": r"[\u0600-\u06FF]",
    "hi": r"[\u0900-\u097F]",
    "ta": r"[\u0B80-\u0BFF]",
    "th": r"[\u0E00-\u0E7F]",
    "zh": r"[\u4E00-\u9FFF]",
}
# a handful of frequent function words per language (ours, chosen by hand)
WORDS = {
    "en": "the and of to is in that it for with answer question",
    "et": "ja on ei et see kui ning mis oli vastus",
    "ht": "ak nan se pou li yo pa ki te kesyon",
    "id": "dan yang di ini itu dengan untuk tidak adalah jawaban",
    "it": "il la di che e è per non un una risposta",
    "qu": "chay mana kay pay ima hina kan chaymanta",
    "sw": "na ya wa kwa ni katika hii jibu swali la",
    "tr": "ve bir bu için ile da de cevap soru değil",
    "vi": "và của là có không một các cho câu trả",
    "de": "der die das und ist nicht ein eine mit für zu antwort",
    "es": "el la de que y en los las por una respuesta texto",
    "fr": "le la les de et des un une est pour réponse texte",
    "pt": "o a de que e do da em um uma para resposta texto",
}


def base(code: str) -> str:
    """The two-letter code NAMES, SCRIPTS and WORDS are keyed by ('swh_Latn' → 'sw')."""
    return FLORES.get(code, code)


def name_of(code: str) -> str:
    return NAMES.get(base(code), code)


def code_of(name: str) -> str | None:
    """The code of a language named in NAMES ('Swahili' → 'sw'), or None."""
    return next((c for c, n in NAMES.items() if n.lower() == name.lower()), None)


def guess(text: str, among: tuple[str, ...]) -> str | None:
    """The most likely of `among` for `text`, or None when nothing points anywhere."""
    scores: dict[str, float] = {}
    words = re.findall(r"\w+", text.lower())
    for lang in among:
        key = base(lang)
        if key in SCRIPTS:
            scores[lang] = len(re.findall(SCRIPTS[key], text)) / max(len(text), 1) * 10
        elif key in WORDS:
            vocab = set(WORDS[key].split())
            scores[lang] = sum(w in vocab for w in words) / max(len(words), 1)
    best = max(scores.items(), key=lambda kv: kv[1], default=(None, 0.0))
    return best[0] if best[1] > 0 else None
