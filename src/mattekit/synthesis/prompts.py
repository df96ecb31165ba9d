"""A seeded, offline generator of multi-person scene descriptions, in place of DFIMat's GPT-4 prompts.

DFIMat (Jiao et al., ACCV 2024, arXiv 2410.09788, §4) asks GPT-4 for diverse, semantically rich sentences for
Stable Diffusion. Offline, a sentence is built from templates and vocabularies of people, clothing, actions,
places and light; sentence ``i`` of seed ``s`` depends on ``(s, i)`` only, so a stopped run resumes with the same
prompts and any one can be reproduced alone.

Example:
    >>> scene_prompt(0, 0) == scene_prompt(0, 0)
    True
    >>> len(scene_prompts(3, seed=1))
    3
"""

from __future__ import annotations

import numpy as np

PEOPLE = ("woman", "man", "girl", "boy", "teenager", "elderly woman", "elderly man", "young woman", "young man",
          "mother", "father", "athlete", "student", "dancer", "musician", "tourist", "bride", "groom")
CLOTHING = ("a red dress", "a denim jacket", "a white shirt", "a black coat", "a yellow raincoat",
            "a striped sweater", "a grey hoodie", "a floral blouse", "a dark suit", "a leather jacket",
            "a green parka", "a wool scarf", "a summer dress", "sportswear", "a long skirt", "a knitted cardigan")
HAIR = ("long curly hair", "short hair", "a ponytail", "braided hair", "wavy blond hair", "a bun", "loose dark hair",
        "grey hair", "a wide-brimmed hat", "a beanie")
ACTIONS = ("talking", "laughing together", "walking side by side", "taking a selfie", "sharing a meal",
           "playing guitar", "dancing", "waiting for a train", "looking at a map", "posing for a photo",
           "having coffee", "playing with a dog", "reading", "hugging", "cheering", "jogging")
PLACES = ("on a busy city street", "in a sunny park", "on a beach", "in a cosy cafe", "at a train station",
          "in a market", "on a mountain trail", "in an office", "in a living room", "at a concert",
          "by a lake", "in a snowy square", "in a garden", "on a rooftop terrace", "in a library")
LIGHT = ("in soft morning light", "at golden hour", "under overcast skies", "at night under street lamps",
         "in bright midday sun", "in warm indoor light", "at dusk", "in dappled shade")
STYLE = ("a realistic photo", "a candid photograph", "a high-resolution photo", "a professional portrait photo",
         "a documentary photo")
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}
TEMPLATES = (
    "{style} of {people} {action} {place}, {light}",
    "{style}: {people}, {action} {place} {light}",
    "{people} {action} {place} {light}, {style}",
)


def person(rng: np.random.Generator) -> str:
    who = PEOPLE[rng.integers(len(PEOPLE))]
    article = "an" if who[0] in "aeiou" else "a"
    detail = CLOTHING[rng.integers(len(CLOTHING))] if rng.random() < 0.6 else HAIR[rng.integers(len(HAIR))]
    return f"{article} {who} with {detail}" if detail in HAIR else f"{article} {who} in {detail}"


def scene_prompt(seed: int, index: int, min_people: int = 2, max_people: int = 4) -> str:
    """Sentence ``index`` of the sequence ``seed``: ``min_people``..``max_people`` people, described one by one
    (up to three) or as a group."""
    rng = np.random.default_rng([seed, index])
    count = int(rng.integers(min_people, max_people + 1))
    if count <= 3:
        listed = [person(rng) for _ in range(count)]
        people = ", ".join(listed[:-1]) + " and " + listed[-1]
    else:
        people = f"{NUMBERS.get(count, count)} {rng.choice(['friends', 'people', 'colleagues', 'family members'])}"
    fields = {"style": STYLE[rng.integers(len(STYLE))], "people": people,
              "action": ACTIONS[rng.integers(len(ACTIONS))], "place": PLACES[rng.integers(len(PLACES))],
              "light": LIGHT[rng.integers(len(LIGHT))]}
    text = TEMPLATES[rng.integers(len(TEMPLATES))].format(**fields)
    return text[0].upper() + text[1:]


def scene_prompts(count: int, seed: int = 0, start: int = 0) -> list[str]:
    """Sentences ``start`` .. ``start + count - 1`` of the sequence ``seed``."""
    return [scene_prompt(seed, i) for i in range(start, start + count)]
