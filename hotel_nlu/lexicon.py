"""Hold the hotel lexicon: phrases, normalisation tables and cue lists (pure data, no logic).

Every phrase is matched case-insensitively on a folded form of each token (lower-case, accents stripped,
repeated letters collapsed), so "PIILLOWS", "pillows" and "pilows" all meet the same pattern. Values starting
with "_" are internal markers: they only ever become an entity through `NEGATION_MAP` (e.g. "not near the
lift" -> quiet_room=quiet) and are otherwise dropped. Entity names and values are fixed by docs/contracts.md.
"""
from __future__ import annotations

COMPLAINT_CATEGORIES: tuple[str, ...] = (
    "cleanliness",
    "noise",
    "maintenance",
    "staff",
    "billing",
    "food_beverage",
    "amenities",
    "check_in",
    "safety",
    "other",
)

PREFERENCE_ENTITIES: tuple[str, ...] = (
    "bed_type",
    "pillow",
    "floor",
    "quiet_room",
    "smoking",
    "temperature",
    "dietary",
    "allergy",
    "newspaper",
    "early_checkin",
    "late_checkout",
    "accessibility",
    "interest",
)

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")

# --------------------------------------------------------------------------------------------------------
# Preference phrases that are specific enough to match anywhere: entity -> value -> phrases.
# --------------------------------------------------------------------------------------------------------
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "bed_type": {
        "king": ("king size", "king sized", "kingsize", "king bed", "king size bed", "king sized bed",
                 "king room", "king-size bed", "california king", "one big bed", "one large bed", "big bed",
                 "large bed", "biggest bed", "huge bed"),
        "queen": ("queen size", "queen sized", "queensize", "queen bed", "queen size bed", "queen room"),
        "double": ("double bed", "double room", "double beds", "dbl bed", "matrimonial bed"),
        "twin": ("twin beds", "twin bed", "twin room", "two beds", "2 beds", "two single beds", "2 single beds",
                 "separate beds", "two separate beds", "twin share"),
        "single": ("single bed", "single room", "one single bed"),
        "sofa_bed": ("sofa bed", "sofabed", "sofa beds", "pull out bed", "pull out sofa", "pullout bed",
                     "couch bed", "sleeper sofa", "sofa sleeper", "futon"),
        "extra_bed": ("extra bed", "additional bed", "rollaway", "rollaway bed", "roll away bed", "fold out bed",
                      "folding bed", "camp bed", "another bed", "spare bed", "extra beds"),
        "crib": ("crib", "cribs", "cot", "baby cot", "baby crib", "travel cot", "bassinet", "baby bed",
                 "cot for the baby", "cot for my baby"),
    },
    "pillow": {
        "hypoallergenic": ("hypoallergenic", "hypo allergenic", "hypoalergenic", "hypo allergic",
                           "non allergenic", "anti allergy pillow", "anti allergy pillows", "allergy friendly pillow",
                           "allergy friendly pillows", "synthetic pillow", "synthetic pillows"),
        "memory_foam": ("memory foam", "memoryfoam", "tempur", "tempurpedic"),
    },
    "floor": {
        "high": ("high floor", "higher floor", "top floor", "upper floor", "high floors", "higher floors",
                 "top floors", "upper floors", "high up", "higher up", "up high", "high level", "higher level",
                 "as high as possible", "penthouse level", "tall floor"),
        "low": ("low floor", "lower floor", "low floors", "lower floors", "low level", "lower level", "low down",
                "not too high up", "close to the ground"),
        "ground": ("ground floor", "ground level", "groundfloor", "street level", "ground floors"),
    },
    "quiet_room": {
        "quiet": ("quiet room", "quite room", "quite rooms", "quiet", "quieter", "quieter room", "quiet place", "quiet area", "quiet side",
                  "peace and quiet", "peaceful", "peaceful room", "silent room", "soundproof", "sound proof",
                  "calm room", "tranquil", "away from noise", "away from the noise", "courtyard side",
                  "courtyard room", "facing the courtyard", "light sleeper", "light sleepers", "sensitive to noise",
                  "noise sensitive", "sensitive to sound", "far from the noise"),
        "_noisy": ("noisy", "noise", "loud"),
        "_noise_source": ("elevator", "elevators", "lift", "lifts", "ice machine", "the street", "street side",
                          "road", "roads", "street",
                          "road side", "busy road", "main road", "the bar", "nightclub", "the club", "traffic",
                          "construction", "stairwell", "the stairs", "vending machine", "housekeeping closet",
                          "service area", "the kitchen", "the pool", "the lobby", "generator"),
    },
    "smoking": {
        "non_smoking": ("non smoking", "nonsmoking", "non smoker", "nonsmoker", "no smoking", "smoke free",
                        "smokefree", "i don't smoke", "i do not smoke", "i dont smoke", "we don't smoke",
                        "we do not smoke", "we dont smoke", "i never smoke", "i quit smoking", "no smokers",
                        "not a smoker", "smoking free"),
        "smoking": ("smoking room", "smoking floor", "smoking allowed", "smoking permitted", "i smoke", "we smoke",
                    "i'm a smoker", "i am a smoker", "we are smokers", "we're smokers", "room for smokers",
                    "smoker room", "room where i can smoke", "balcony to smoke"),
    },
    "temperature": {
        "cool": ("cool room", "cold room", "cooler room", "colder room", "chilly room", "air conditioning on",
                 "ac on", "aircon on", "room cool", "room cold", "room cooler", "room colder", "cool rooms",
                 "cold rooms", "cooler rooms", "colder rooms", "i run hot", "i get hot", "get hot easily",
                 "i sleep hot", "aircon on cold", "ac on cold", "keep it cool", "keep it cold", "always hot",
                 "always too hot", "always get hot", "always feel hot", "get too hot", "i feel hot"),
        "warm": ("warm rooms", "warmer rooms", "i get cold", "get cold easily", "i run cold", "i feel the cold",
                 "feel the cold", "warmed up", "warm up the room", "heat the room", "heat up the room",
                 "heating up", "keep it warm", "i sleep cold", "always cold", "always freezing", "always get cold",
                 "always feel cold", "always feel the cold", "i feel cold", "get cold at night",
                 "warm room", "warmer room", "hot room", "heated room", "heating on", "room warm", "room warmer",
                 "room hot", "cosy room", "cozy room"),
    },
    "dietary": {
        "vegetarian": ("vegetarian", "vegeterian", "vegitarian", "vegetarien", "vegatarian", "veggie",
                       "lacto ovo", "meat free", "meatfree", "meatless", "i don't eat meat", "i dont eat meat",
                       "i do not eat meat", "no meat"),
        "vegan": ("vegan", "vegans", "plant based", "plantbased", "vegan diet", "no animal products"),
        "halal": ("halal", "hallal", "halaal"),
        "kosher": ("kosher", "koshar", "kasher"),
        "gluten_free": ("gluten free", "glutenfree", "gluten free diet", "coeliac", "celiac", "celiac disease",
                        "coeliac disease", "no gluten", "without gluten", "gf diet"),
        "lactose_free": ("lactose free", "lactosefree", "lactose intolerant", "lactose intolerance",
                         "dairy free", "dairyfree", "no dairy", "no lactose", "non dairy", "without dairy",
                         "intolerant to lactose", "lactose intolerent"),
        "pescatarian": ("pescatarian", "pescetarian", "pescaterian", "pescatarians", "fish but no meat",
                        "eat fish", "do eat fish", "fish is fine", "fish is ok", "fish is okay", "except fish",
                        "fish only", "only fish", "fish and seafood are fine", "but fish",
                        "only fish no meat"),
        "low_sugar": ("low sugar", "sugar free", "sugarfree", "no sugar", "diabetic", "i am diabetic",
                      "i'm diabetic", "less sugar", "reduced sugar"),
        "_meat": ("meat", "red meat", "any meat", "pork or beef", "beef"),
    },
    "allergy": {
        "pollen": ("hay fever", "hayfever", "pollen allergy", "allergic to pollen"),
        "feathers": ("allergic to feathers", "allergic to feather", "feather allergy", "allergy to feathers",
                     "allergic to down"),
        "dust": ("dust allergy", "dust mite allergy", "allergic to dust", "dust mites allergy"),
    },
    "newspaper": {
        "financial_times": ("financial times", "the financial times", "the ft", "financial time"),
        "new_york_times": ("new york times", "the new york times", "nyt", "ny times", "newyork times"),
        "the_guardian": ("the guardian", "guardian newspaper", "the gaurdian"),
        "le_monde": ("le monde",),
        "le_figaro": ("le figaro", "figaro"),
        "the_times": ("the times", "times of london", "london times"),
        "wall_street_journal": ("wall street journal", "the wall street journal", "wsj"),
        "washington_post": ("washington post", "the washington post"),
        "usa_today": ("usa today",),
        "the_telegraph": ("the telegraph", "daily telegraph", "the daily telegraph"),
        "the_independent": ("the independent",),
        "the_economist": ("the economist", "economist"),
        "international_new_york_times": ("international new york times", "international herald tribune",
                                         "herald tribune"),
        "frankfurter_allgemeine": ("frankfurter allgemeine", "faz"),
        "die_zeit": ("die zeit",),
        "sueddeutsche_zeitung": ("suddeutsche zeitung", "sueddeutsche zeitung", "süddeutsche zeitung"),
        "el_pais": ("el pais", "el país"),
        "corriere_della_sera": ("corriere della sera", "il corriere"),
        "any": ("a newspaper", "any newspaper", "a paper", "any paper", "some newspaper", "a daily newspaper",
                "a daily paper", "a morning paper", "a morning newspaper", "the morning paper",
                "a local newspaper", "a local paper", "the local paper", "newspaper every morning",
                "paper every morning", "newspaper delivered", "paper delivered", "newspaper in the morning",
                "daily newspaper", "newspapers delivered", "any news paper", "a news paper"),
    },
    "early_checkin": {
        "early": ("early check in", "early checkin", "early chekin", "early check inn", "check in early",
                  "checkin early", "earlier check in", "check in earlier", "arrive early", "arriving early",
                  "early arrival", "get in early", "get the room early", "room early", "room ready early",
                  "early access to the room", "early access to my room"),
    },
    "late_checkout": {
        "late": ("late checkout", "late check out", "late chekout", "late checkot", "late chek out",
                 "late checkoutt", "later checkout", "later check out", "check out late", "checkout late",
                 "check out later", "checkout later", "late departure", "leave late", "leave later",
                 "leaving late", "stay longer", "keep the room longer", "keep my room longer",
                 "extended checkout", "extend my checkout", "extend checkout", "extend check out",
                 "late check-out"),
    },
    "accessibility": {
        "wheelchair": ("wheelchair", "wheel chair", "wheelchairs", "wheelchair accessible", "accessible room",
                       "disabled room", "disabled access", "ada room", "ada accessible", "mobility scooter",
                       "mobility issues", "reduced mobility", "limited mobility", "handicap accessible",
                       "handicapped accessible", "accessible bathroom"),
        "step_free": ("step free", "stepfree", "no steps", "no stairs", "without stairs", "without steps",
                      "level access", "ramp", "ramps", "can't do stairs", "cannot do stairs", "can't climb stairs",
                      "cannot climb stairs", "can't manage stairs", "avoid stairs", "avoid steps"),
        "walk_in_shower": ("walk in shower", "walkin shower", "roll in shower", "rollin shower",
                           "shower with no step", "shower with no steps", "step free shower", "stepfree shower",
                           "level access shower", "shower without steps", "no step shower", "flat shower",
                           "level shower", "shower without a step", "no bathtub", "no bath tub",
                           "shower instead of a bath", "shower instead of bath", "shower chair", "shower seat"),
        "hearing": ("hearing impaired", "hard of hearing", "deaf", "hearing aid", "hearing aids",
                    "visual alarm", "visual fire alarm", "vibrating alarm", "flashing alarm",
                    "hearing accessible", "hearing impairment", "hearing loss"),
        "visual": ("visually impaired", "visual impairment", "blind", "partially sighted", "low vision",
                   "braille", "guide dog", "poor eyesight", "sight impaired"),
        "grab_bars": ("grab bars", "grab bar", "grab rails", "grab rail", "handrail", "handrails", "hand rails",
                      "support rails", "support bars", "safety rails", "grab handles"),
    },
    "interest": {
        "business": ("business trip", "on business", "for business", "business traveller", "business traveler",
                     "business travel", "work trip", "here for work", "travelling for work",
                     "traveling for work", "in town for work", "here on work", "for work"),
        "golf": ("golfer", "golfing", "play golf", "playing golf", "round of golf"),
        "wine": ("wine tasting", "wine tastings", "wine lover", "wine lovers"),
        "spa": ("spa day", "spa treatment", "spa treatments", "book a massage"),
        "hiking": ("go hiking", "going hiking", "love hiking", "mountain walks", "mountain walking", "hillwalking"),
        "running": ("go for a run", "going for a run", "go running", "morning run", "running routes",
                    "jogging routes", "running route"),
        "swimming": ("go swimming", "swim laps", "swimming laps"),
        "museums": ("museum", "museums", "art galleries", "art gallery"),
    },
}

# Phrases that only count when the message also contains one of `CONTEXT_WORDS[entity]`
# ("cool" in "keep the room cool" but not in "cool, thanks"; "cot" only near beds).
CONTEXTUAL_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "bed_type": {
        "king": ("king", "kingsize"),
        "queen": ("queen",),
        "double": ("double",),
        "twin": ("twin", "twins"),
        "single": ("single",),
    },
    "temperature": {
        # "I like it cold" -> cool, but "the room is cold" (a complaint) -> the guest wants it warm.
        "cool": ("cool", "cooler", "cold", "colder", "chilly", "fresh", "too hot", "too warm", "too stuffy",
                 "stuffy", "is hot", "was hot", "so hot", "very hot", "really hot", "is warm", "was warm",
                 "so warm", "is boiling", "boiling", "is stuffy", "like an oven", "sweltering", "hotter than"),
        "warm": ("warm", "warmer", "hot", "hotter", "too cold", "too cool", "too chilly", "is cold", "was cold",
                 "so cold", "very cold", "really cold", "is freezing", "was freezing", "freezing", "is chilly",
                 "was chilly", "cosy", "cozy", "colder than"),
    },
    "smoking": {
        "smoking": ("smoking", "smoker", "smokers"),
    },
    "newspaper": {
        "any": ("newspaper", "newspapers", "paper", "papers", "news paper"),
    },
    "interest": {
        "spa": ("spa", "spas", "massage", "massages", "sauna", "saunas", "wellness", "steam room", "facial",
                "treatments", "hot tub", "jacuzzi"),
        "gym": ("gym", "gyms", "fitness", "fitness centre", "fitness center", "workout", "workouts", "work out",
                "working out", "weights", "weight training", "exercise", "exercising", "crossfit", "yoga",
                "pilates"),
        "golf": ("golf", "golfing", "golfer", "golf course", "golf courses", "tee time", "driving range"),
        "dining": ("fine dining", "dining", "restaurants", "foodie", "gastronomy", "cuisine", "michelin",
                   "eating out", "local food", "good food", "foodies", "into food", "love food",
                   "love our food", "restaurant tips", "restaurant recommendations"),
        "wine": ("wine", "wines", "wine tasting", "wine tastings", "winery", "wineries", "vineyard", "vineyards",
                 "sommelier", "oenology"),
        "museums": ("museum", "museums", "art galleries", "art gallery", "galleries", "exhibitions", "art",
                    "culture", "architecture", "theatre", "theater", "opera"),
        "hiking": ("hiking", "hike", "hikes", "hiker", "trekking", "walking trails", "hillwalking",
                   "hill walking", "nature walks", "mountains", "trails"),
        "running": ("i run", "we run", "i jog", "we jog",
                    "running", "jogging", "jog", "jogs", "runner", "runs", "marathon", "marathons",
                    "trail running", "morning run", "go for a run"),
        "swimming": ("swimming", "swim", "swims", "swimmer", "pool", "laps", "the pool"),
        "nightlife": ("nightlife", "night life", "bars", "clubs", "clubbing", "cocktails", "cocktail bars",
                      "live music", "concerts", "going out", "pubs", "partying"),
        "shopping": ("shopping", "shops", "boutiques", "markets", "designer stores", "outlets", "malls"),
        "business": ("business", "business centre", "business center", "meeting room", "meeting rooms",
                     "meetings", "coworking", "co working", "conference", "conferences", "working remotely",
                     "desk to work"),
    },
}
# Bare contextual words followed by one of these are not a preference ("double charged", "single night").
BARE_REJECT_NEXT: frozenset[str] = frozenset({"hot", "cold", "late", "out", "into", "away",
                                              "charged", "charge", "billed", "booked", "booking", "check",
                                              "checked", "night", "nights", "time", "times", "shot", "espresso",
                                              "click", "trouble", "standard", "water", "shower", "food", "coffee",
                                              "tea", "drink", "drinks", "meal", "breakfast", "soup", "dish",
                                              "flowers", "flower", "fruit", "towels", "towel", "sheets",
                                              "linen", "bread", "milk", "juice", "pastries"})

CONTEXT_WORDS: dict[str, frozenset[str]] = {
    "bed_type": frozenset({"bed", "beds", "room", "rooms", "size", "sized", "sleep", "sleeping", "prefer",
                           "preference", "book", "booking", "want", "need", "like", "please", "request",
                           "mattress"}),
    "temperature": frozenset({"quiet", "ask", "please", "prefer", "suit", "suits",
                              "room", "bedroom", "temperature", "temp", "thermostat", "degrees", "ac", "aircon",
                              "conditioning", "heating", "heater", "sleep", "sleeping", "keep", "set", "prefer",
                              "preference", "like", "love", "radiator", "fan", "night", "nights", "climate"}),
    "smoking": frozenset({"room", "rooms", "floor", "allowed", "prefer", "want", "need", "like", "smoker",
                          "balcony", "request", "book", "booking", "permitted"}),
    "newspaper": frozenset({"read", "reading", "deliver", "delivered", "delivery", "morning", "mornings",
                            "daily", "every", "copy", "bring", "get"}),
    "interest": frozenset({"here", "thing", "note", "usually", "always", "daily", "weekend", "trip", "holiday",
                           "vacation", "why", "start", "day", "morning", "mornings", "evenings",
                           "interested", "interest", "interests", "love", "loves", "like", "likes", "enjoy",
                           "enjoys", "into", "fan", "keen", "fond", "passion", "passionate", "hobby", "hobbies",
                           "recommend", "recommendation", "recommendations", "favourite", "favorite", "go",
                           "going", "planning", "plan", "want", "wanna", "do", "tips", "suggest", "suggestions",
                           "book", "booking", "try"}),
}

# --------------------------------------------------------------------------------------------------------
# Pillows: a value adjective followed by a pillow noun ("feather pillows", "firm piilow", "2 extra pillows").
# --------------------------------------------------------------------------------------------------------
PILLOW_NOUNS: tuple[str, ...] = ("pillow", "pillows", "pilow", "pilows", "pillo", "pillos", "pilloe", "pillws",
                                 "pilllow", "piilow", "piilows", "cushion", "cushions", "pillowcase")
PILLOW_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "feather": ("feather", "feathers", "feathered", "feather filled", "goose feather", "duck feather", "fether"),
    "down": ("down", "goose down", "duck down", "down filled"),
    "foam": ("foam", "latex"),
    "memory_foam": ("memory foam", "memoryfoam", "tempur"),
    "hypoallergenic": ("hypoallergenic", "hypo allergenic", "hypoalergenic", "anti allergy", "antiallergy",
                       "anti allergic", "allergy free", "allergy friendly", "non allergenic", "synthetic",
                       "non feather", "featherless", "feather free"),
    "firm": ("firm", "firmer", "firmest", "hard", "harder", "hardest", "thick", "thicker", "stiff",
             "supportive", "high"),
    "soft": ("soft", "softer", "softest", "thin", "thinner", "low", "flat", "fluffy", "squishy", "squashy",
             "plush"),
    "extra": ("extra", "more", "another", "additional", "spare", "two more", "2 more", "a few more",
              "lots of", "loads of", "a lot of", "many", "several", "plenty of", "four", "three", "4", "3",
              "some more", "second", "an extra", "two extra", "2 extra", "plenty of", "two", "2"),
}
# Bare pillow adjectives that are only a pillow value when a pillow noun or bed word is elsewhere in the message.
PILLOW_BARE: dict[str, tuple[str, ...]] = {
    "feather": ("feather", "feathers"),
}
PILLOW_CONTEXT: frozenset[str] = frozenset({"pillow", "pillows", "bed", "bedding", "sleep", "duvet", "duvets",
                                            "cushion", "cushions", "pilow", "pilows", "piilow"})

# --------------------------------------------------------------------------------------------------------
# Allergens: only an allergy when a cue is near ("allergic to nuts", "nut allergy", "no shellfish").
# --------------------------------------------------------------------------------------------------------
ALLERGENS: dict[str, tuple[str, ...]] = {
    "nuts": ("nut", "nuts", "tree nut", "tree nuts", "hazelnut", "hazelnuts", "almond", "almonds", "walnut",
             "walnuts", "cashew", "cashews", "pistachio", "pistachios", "pecan", "pecans", "macadamia"),
    "peanuts": ("peanut", "peanuts", "peanut butter", "groundnut", "groundnuts"),
    "shellfish": ("shellfish", "shell fish", "shrimp", "shrimps", "prawn", "prawns", "crab", "crabs", "lobster",
                  "mussels", "oysters", "clams", "seafood", "sea food", "crustaceans"),
    "fish": ("fish",),
    "dairy": ("dairy", "milk", "cheese", "dairy products", "cow's milk"),
    "eggs": ("egg", "eggs"),
    "gluten": ("gluten", "wheat"),
    "soy": ("soy", "soya", "soybean", "soybeans", "soy beans"),
    "feathers": ("feather", "feathers", "down feathers"),
    "dust": ("dust", "dust mites", "dust mite", "house dust"),
    "pollen": ("pollen", "grass pollen", "tree pollen"),
}
# Cue before the allergen, anywhere earlier in the same clause run ("I'm allergic to nuts and shellfish").
ALLERGY_CUES_BEFORE: tuple[str, ...] = ("allergic to", "allergic", "allergy to", "allergies to", "allergy",
                                        "allergies", "intolerant to", "intolerance to", "sensitive to",
                                        "anaphylactic to", "can't eat", "cannot eat", "can not eat",
                                        "can't have", "cannot have", "react to", "reaction to", "alergic to",
                                        "allergik to", "alergy")
# Cue right after the allergen ("nut allergy", "shellfish allergies", "feathers make me sneeze").
ALLERGY_CUES_AFTER: tuple[str, ...] = ("allergy", "allergies", "allergic", "alergy", "intolerance",
                                       "make me sneeze", "makes me sneeze", "make me ill", "makes me ill",
                                       "make me sick", "makes me sick", "give me a rash", "gives me a rash",
                                       "make me itch", "makes me itch", "would kill me", "are dangerous for me",
                                       "is dangerous for me")
# A negated allergen without an allergy cue ("no dairy", "gluten-free", "no feathers") maps here;
# allergens not listed become allergy=<allergen>.
NEGATED_ALLERGEN: dict[str, tuple[str, str]] = {
    "dairy": ("dietary", "lactose_free"),
    "gluten": ("dietary", "gluten_free"),
    "feathers": ("pillow", "hypoallergenic"),
}

# --------------------------------------------------------------------------------------------------------
# Negation.
# --------------------------------------------------------------------------------------------------------
# Cues looked for in the few tokens before a match (token norms; "n't"/"nt" already normalise to "not").
NEGATION_CUES: tuple[str, ...] = ("no", "not", "never", "without", "non", "nor", "neither", "avoid", "hate",
                                  "nothing", "none",
                                  "hates", "dislike", "dislikes", "badly", "poorly", "away from", "far from",
                                  "instead of", "rather than", "other than", "anything but", "get rid of",
                                  "take away", "remove", "swap out", "replace the", "cannot stand", "can't stand",
                                  "allergic to", "allergy to", "problem with", "problems with", "trouble with",
                                  "bothered by", "less")
# Cues right after a match ("feather-free", "gluten free").
NEGATION_CUES_AFTER: tuple[str, ...] = ("free", "less")
# A negation cue followed by one of these is not a negation ("I don't mind a high floor").
NEGATION_BLOCKERS: tuple[str, ...] = ("mind", "care", "matter", "problem", "issue", "only", "doubt", "bother",
                                      "worry", "sure")
# Tokens that end the negation scope.
CLAUSE_BREAKERS: tuple[str, ...] = (".", ",", ";", ":", "!", "?", "but", "and", "although", "though",
                                    "however", "because", "so", "then", "also", "plus", "while", "whereas")
NEGATION_WINDOW = 4           # tokens looked back for most entities
NEGATION_WINDOW_WIDE = 7      # tokens looked back for noise sources ("don't put me next to the lift")
WIDE_NEGATION_ENTITIES: frozenset[str] = frozenset({"quiet_room"})

# (entity, value) negated -> (entity, value) or None (drop). Anything negated and not listed is dropped.
NEGATION_MAP: dict[tuple[str, str], tuple[str, str] | None] = {
    ("pillow", "feather"): ("pillow", "hypoallergenic"),
    ("pillow", "down"): ("pillow", "hypoallergenic"),
    ("pillow", "firm"): ("pillow", "soft"),
    ("pillow", "soft"): ("pillow", "firm"),
    ("pillow", "hypoallergenic"): None,
    ("floor", "high"): ("floor", "low"),
    ("floor", "low"): ("floor", "high"),
    ("floor", "ground"): ("floor", "high"),
    ("temperature", "warm"): ("temperature", "cool"),
    ("temperature", "cool"): ("temperature", "warm"),
    ("smoking", "smoking"): ("smoking", "non_smoking"),
    ("smoking", "non_smoking"): ("smoking", "smoking"),
    ("quiet_room", "_noisy"): ("quiet_room", "quiet"),
    ("quiet_room", "_noise_source"): ("quiet_room", "quiet"),
    ("dietary", "_meat"): ("dietary", "vegetarian"),
}

# --------------------------------------------------------------------------------------------------------
# Preference categories named when deleting or asking ("forget my pillow preference").
# --------------------------------------------------------------------------------------------------------
PREFERENCE_CATEGORY_PHRASES: dict[str, tuple[str, ...]] = {
    "bed_type": ("bed", "beds", "bed type", "bed size", "type of bed", "bed preference", "bedding"),
    "pillow": ("pillow", "pillows", "pilow", "pilows", "piilow", "pillow preference", "pillow type",
               "pillow choice", "pillow menu"),
    "floor": ("floor", "floors", "floor preference", "which floor", "floor level"),
    "quiet_room": ("quiet room preference", "noise preference", "quiet preference", "noise level"),
    "smoking": ("smoking preference", "smoking status", "smoking or non smoking", "smoking choice"),
    "temperature": ("temperature", "room temperature", "temperature preference", "temp", "thermostat"),
    "dietary": ("diet", "dietary", "dietary requirement", "dietary requirements", "dietary needs",
                "dietary preference", "dietary preferences", "dietary restrictions", "food preference",
                "food preferences", "meal preference", "meal preferences", "eating habits"),
    "allergy": ("allergy", "allergies", "allergy information", "allergy info", "allergens", "alergies",
                "alergy"),
    "newspaper": ("newspaper", "newspapers", "paper", "papers", "newspaper preference", "news paper"),
    "early_checkin": ("check in", "checkin", "check in time", "checkin time", "arrival", "arrival time",
                      "early check in preference"),
    "late_checkout": ("checkout", "check out", "chekout", "checkot", "checkout time", "check out time",
                      "departure", "departure time", "late checkout preference"),
    "accessibility": ("accessibility", "access needs", "accessibility needs", "accessibility requirements",
                      "disability", "mobility needs", "special needs"),
    "interest": ("interests", "interest", "hobbies", "hobby", "activities", "things i like", "leisure"),
}

# --------------------------------------------------------------------------------------------------------
# Check-in / check-out triggers that take a time ("check out at 2pm", "arrive around 10", "2pm checkout").
# --------------------------------------------------------------------------------------------------------
TIME_TRIGGERS: dict[str, tuple[str, ...]] = {
    "early_checkin": ("check in", "checkin", "chekin", "check inn", "checking in", "early check in",
                      "early checkin", "arrive", "arriving", "arrival", "get the room", "getting the room",
                      "have the room", "have my room", "get my room", "getting my room", "access the room",
                      "access to the room", "room ready", "into the room", "into my room", "get into the room"),
    "late_checkout": ("leave the room", "leave my room", "vacate the room", "vacate my room",
                      "out of the room", "out of my room", "hand in the key", "hand back the key",
                      "check out", "checkout", "chekout", "checkot", "chek out", "checking out", "late checkout",
                      "late check out", "late chekout", "leave", "leaving", "depart", "departing", "departure",
                      "stay until", "stay till", "stay til", "keep the room until", "keep my room until",
                      "keep the room till", "keep my room till", "extend until", "extend checkout until",
                      "extend checkout to", "extend check out to", "stay in the room until"),
}
# Words allowed between a trigger and its time.
TIME_CONNECTORS: tuple[str, ...] = ("at", "around", "about", "by", "until", "till", "til", "to", "for",
                                    "approx", "approximately", "roughly", "maybe", "like", "is", "be", "would",
                                    "be", "~", "-", "ish", "latest", "the", "earliest", "as", "of", "from",
                                    "time", "before", "after", "please", "possible", "around", "circa", "ca")
HOUR_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12,
}
NAMED_TIMES: dict[str, str] = {"noon": "12:00", "midday": "12:00", "mid day": "12:00", "lunchtime": "12:00",
                               "midnight": "00:00"}

# --------------------------------------------------------------------------------------------------------
# Floors and rooms.
# --------------------------------------------------------------------------------------------------------
ORDINAL_WORDS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
}
# Words after which a number is a room number ("room 412", "rm 305", "suite 12B").
ROOM_WORDS: tuple[str, ...] = ("room", "rm", "suite", "apartment", "apt", "chalet", "villa", "cabin",
                               "bungalow", "roon", "rooom", "romm", "zimmer", "chambre", "habitacion")
# Words that, right after a number, show it is not a room number ("room for 2 people").
NOT_ROOM_AFTER: tuple[str, ...] = ("minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "day",
                                   "days", "night", "nights", "week", "weeks", "people", "person", "persons",
                                   "guest", "guests", "adult", "adults", "kid", "kids", "child", "children",
                                   "degree", "degrees", "floor", "floors", "pm", "am", "star", "stars", "times",
                                   "euro", "euros", "dollar", "dollars", "pound", "pounds", "usd", "eur", "gbp",
                                   "percent", "beds", "bed", "bags", "towels", "pillows", "keys", "o'clock",
                                   "oclock")

# --------------------------------------------------------------------------------------------------------
# Guest names.
# --------------------------------------------------------------------------------------------------------
# Introductions after which the next word is a name whatever its case.
NAME_INTROS_STRONG: tuple[str, ...] = ("my surname is", "surname is", "my last name is", "last name is",
                                       "family name is", "first name", "under the name", "under the name of",
                                       "is under the name", "name on the booking is",
                                       "name on the reservation is", "the name on the booking is",
                                       "the booking is in the name of", "in the name of",
                                       "my name is", "my name's", "my names", "my name", "name is", "name's",
                                       "the name is", "call me", "you can call me", "please call me", "i go by",
                                       "i am called", "i'm called", "im called", "they call me", "name:",
                                       "my first name is", "first name is", "my full name is", "booked as",
                                       "i booked as", "the booking is under")
# Introductions that often precede non-names ("I'm tired", "this is ridiculous"); the name must pass the
# stop-list, and for "this is"/"it's" it must be capitalised or followed by "here"/"speaking".
NAME_INTROS_WEAK: tuple[str, ...] = ("i'm", "i am", "im", "i m")
NAME_INTROS_WEAKEST: tuple[str, ...] = ("this is", "it's", "its", "it is", "you're talking to",
                                        "you are talking to", "you're speaking to", "you are speaking with",
                                        "booking is under", "reservation is under", "booked under", "is under",
                                        "address me as", "refer to me as", "me?", "my name?", "name?")
NAME_FOLLOWERS_CONFIRM: tuple[str, ...] = ("here", "speaking", "from room", "in room", "room")
# After a bare name at the start of an `introduce` message ("Ingrid", "Kenji from Tokyo", "Tanaka is the name").
NAME_BARE_FOLLOWERS: tuple[str, ...] = ("here", "speaking", "from", "in room", "room", "is the name",
                                        "is my name", "is the name on the reservation", "btw", "and", "please",
                                        "thanks", "hello", "hi")
# Words that are never a name after "I'm"/"this is"/"my name is" (compared lower-case).
NAME_STOPLIST: frozenset[str] = frozenset("""
a an the my your our his her their its this that these those some any no not never also just only still
very really so too quite rather pretty bit little lot kind sort all both each every
i me we you he she it they him them us myself yourself here there now then today tonight tomorrow yesterday
in at on from with without for to of by about into onto over under near next inside outside up down out off
back away home around through after before during since until till and or but if because as than when
while where who what why how which whose whom yes yeah yep nope ok okay alright fine good great well sure
sorry afraid tired exhausted sleepy hungry thirsty cold hot warm freezing sick ill unwell poorly better
worse happy glad sad upset angry mad furious annoyed frustrated disappointed unhappy pleased satisfied
delighted thrilled excited worried concerned confused lost stuck locked late early ready done finished busy
free available interested allergic vegan vegetarian pescatarian diabetic celiac coeliac pregnant deaf blind
disabled married single alone new old young staying leaving going coming calling writing checking trying
looking wondering waiting having getting asking travelling traveling visiting arriving departing planning
hoping thinking sitting standing calling messaging texting still currently actually literally honestly
just gonna going wanna about almost nearly sick guest guests customer client member visitor manager owner
staff room suite floor number reception desk hotel bed bathroom the wrong right correct not unable able
ridiculous unacceptable terrible awful horrible disgusting outrageous absurd insane crazy bad poor perfect
lovely wonderful amazing fantastic excellent brilliant nice beautiful gorgeous cool weird strange funny
urgent serious important annoying broken dirty noisy loud quiet clean comfortable uncomfortable
impossible possible unbelievable incredible shocking embarrassing typical normal fair unfair wrong true
false correct enough fed sick done one two three four five six seven eight nine ten hundred first last
mr mrs ms miss dr sir madam mister doctor professor here's there's afraid aware sure certain positive
unsure uncertain desperate hopeful thankful grateful appreciative curious keen fond fan big small short
tall fat thin heavy light allergic intolerant sensitive lactose gluten hard soft asleep awake up stressed
relaxed scared frightened shocked surprised amazed impressed confused bored lonely homesick jetlagged
jet lagged sunburnt sunburned exhausted starving dying freezing boiling melting sweating shaking bleeding
injured hurt okay ok hi hello hey thanks thank please booked reserved checked registered calling
wanting needing requesting requiring reporting complaining writing contacting phoning emailing messaging
""".split())
# Function words, weekdays and months: never a name, wherever they appear after an introduction.
NAME_STOP_EXTRA: tuple[str, ...] = (
    "can", "could", "would", "will", "should", "may", "might", "must", "do", "does", "did", "have", "has", "had",
    "be", "been", "was", "were", "need", "want", "like", "let", "get", "got", "give", "tell", "help", "please",
    "thanks", "thank", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "june", "july", "august", "september", "october", "november",
    "december", "morning", "afternoon", "evening", "night", "weekend", "christmas", "easter", "true",
    "impossible", "ridiculous", "hilarious", "fine", "cold", "freezing", "boiling", "broken", "hot",
    "btw", "fyi", "lol", "ok", "hmm", "um", "uh", "yes", "no", "nope", "yeah", "sure", "thx", "ty",
)
# Spatial words that must sit between a negation and a noise source ("not near the lift", "away from the road").
SPATIAL_WORDS: tuple[str, ...] = ("near", "next", "close", "by", "beside", "facing", "face", "above", "below",
                                  "over", "opposite", "overlooking", "from", "to", "on", "onto", "towards")

# Intents whose preference mentions name a category ("remove the nut allergy" -> preference_category=allergy).
CATEGORY_INTENTS: tuple[str, ...] = ("delete_preference", "ask_profile")
# Intent whose messages may be a bare name ("Ingrid", "Oliver Brown").
NAME_INTENTS: tuple[str, ...] = ("introduce",)
# For these intents only the listed entities are kept (complaints annotate rooms, not preferences).
INTENT_ENTITY_FILTER: dict[str, tuple[str, ...]] = {
    "complain": ("room_number", "guest_name"),
    "praise": ("room_number", "guest_name"),
    "give_feedback": ("room_number", "guest_name"),
}
# Lower-case words with these endings are treated as adjectives/verbs, not names (after weak intros only).
NAME_REJECT_SUFFIXES: tuple[str, ...] = ("ing", "ly", "ful", "ous", "ive", "able", "ible", "less", "ish",
                                         "ened", "ated", "ied")

# --------------------------------------------------------------------------------------------------------
# Severity and complaint-category priors.
# --------------------------------------------------------------------------------------------------------
SEVERITY_HIGH_CUES: tuple[str, ...] = (
    "fire", "on fire", "smoke", "smoking outlet", "burning smell", "smell of burning", "gas", "smell of gas",
    "gas leak", "carbon monoxide", "flood", "flooded", "flooding", "water everywhere", "injured", "injury",
    "hurt myself", "got hurt", "is hurt", "blood", "bleeding", "emergency", "urgent", "urgently", "asap",
    "as soon as possible", "immediately", "right now", "right away", "unsafe", "not safe", "dangerous",
    "danger", "locked out", "lock is broken", "broken lock", "lock broken", "door won't lock",
    "door doesn't lock", "door does not lock", "can't lock", "cannot lock", "won't lock", "stuck in the lift",
    "stuck in the elevator", "stuck in lift", "stuck in elevator", "trapped", "electric shock", "sparks",
    "sparking", "intruder", "break in", "broke in", "stolen", "theft", "robbed", "assaulted", "harassed",
    "threatened", "furious", "unacceptable", "outraged", "disgusted", "disgraceful", "appalling", "appalled",
    "bed bugs", "bedbugs", "cockroaches", "rats", "mice", "no water", "no power", "power cut", "fainted",
    "collapsed", "ambulance", "police", "help me", "allergic reaction",
)
SEVERITY_LOW_CUES: tuple[str, ...] = (
    "a bit", "a little", "a little bit", "slightly", "minor", "small thing", "small issue", "small problem",
    "little thing", "tiny", "not a big deal", "no big deal", "not a huge deal", "not a problem", "no rush",
    "no hurry", "not urgent", "non urgent", "not an emergency", "when you have time", "when you get a chance",
    "whenever you can", "whenever", "no worries", "just so you know", "just letting you know", "fyi",
    "just a heads up", "heads up", "not important", "nothing serious", "not serious", "not a biggie",
    "somewhat", "kind of", "kinda", "could be better", "a tad",
)
# High cues that a preceding negation turns off ("not urgent", "no emergency").
SEVERITY_NEGATABLE: tuple[str, ...] = ("urgent", "urgently", "emergency", "dangerous", "unsafe", "danger",
                                       "immediately", "asap", "fire", "smoke", "gas", "blood", "injured")

CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cleanliness": ("dirty", "filthy", "unclean", "not clean", "not cleaned", "wasn't cleaned", "stain",
                    "stains", "stained", "dust", "dusty", "hair in", "hairs", "mould", "mold", "mouldy", "moldy",
                    "smells", "smelly", "stinks", "stink", "odour", "odor", "cockroach", "cockroaches", "bugs",
                    "bed bugs", "bedbugs", "insects", "ants", "trash", "rubbish", "garbage", "bin", "grime",
                    "grimy", "sticky", "crumbs", "vomit", "urine", "housekeeping", "cleaning", "cleaner",
                    "cleaned", "sheets", "linen", "disgusting", "gross", "used towels", "toilet was dirty",
                    "smell", "smelled", "smelt", "smelling", "reeks", "reek", "cigarette", "cigarettes",
                    "cigarette smoke", "stale smoke", "smell of smoke", "smells of smoke", "smelled of smoke",
                    "smelt of smoke", "smells like smoke", "smelled like smoke"),
    "noise": ("noise", "noisy", "loud", "music", "party", "shouting", "screaming", "yelling", "banging",
              "construction", "drilling", "hammering", "neighbours", "neighbors", "next door", "barking",
              "snoring", "thin walls", "can't sleep", "cannot sleep", "couldn't sleep", "kept awake",
              "keeping me awake", "woke me", "woken", "racket", "din", "traffic", "hear everything",
              "vibration", "humming", "buzzing"),
    "maintenance": ("broken", "not working", "doesn't work", "does not work", "won't work", "stopped working",
                    "out of order", "leak", "leaking", "leaks", "leaky", "dripping", "drips", "shower", "toilet",
                    "flush", "sink", "tap", "faucet", "drain", "clogged", "blocked", "air conditioning", "aircon",
                    "a/c", "ac", "heating", "heater", "radiator", "light", "lights", "bulb", "lamp", "tv",
                    "television", "remote", "socket", "outlet", "plug", "power", "electricity", "door",
                    "window", "blinds", "curtain", "curtains", "fridge", "hot water", "water pressure",
                    "no hot water", "cold water", "thermostat", "fan", "ceiling", "elevator", "lift",
                    "handle", "bath", "bathtub", "repair", "fix", "fixed", "key card", "keycard", "card reader"),
    "staff": ("rude", "staff", "receptionist", "reception", "employee", "employees", "manager", "waiter",
              "waitress", "concierge", "unhelpful", "unfriendly", "attitude", "ignored", "impolite",
              "disrespectful", "porter", "doorman", "bellboy", "housekeeper", "security guard", "front desk",
              "desk clerk", "shouted at", "yelled at", "service was", "unprofessional", "condescending",
              "arrogant", "nobody helped", "no one helped", "nobody answered", "no one answered",
              "didn't answer", "hung up", "bartender", "valet"),
    "billing": ("charge", "charged", "charges", "bill", "billing", "billed", "invoice", "overcharged",
                "refund", "refunded", "payment", "paid", "pay", "price", "prices", "deposit", "credit card",
                "card", "fee", "fees", "receipt", "double charged", "tax", "taxes", "money", "cost", "costs",
                "expensive", "rate", "folio", "pre authorisation", "pre authorization", "hold on my card",
                "euros", "dollars", "pounds", "$", "€", "£"),
    "food_beverage": ("food", "breakfast", "dinner", "lunch", "restaurant", "meal", "meals", "coffee", "tea",
                      "menu", "buffet", "room service", "drink", "drinks", "bar", "undercooked", "overcooked",
                      "raw", "stale", "cuisine", "dish", "soup", "eggs", "toast", "bread", "wine", "beer",
                      "cocktail", "juice", "cold food", "food was cold", "food poisoning", "taste", "tasteless",
                      "bland", "burnt", "order", "ordered", "minibar", "snack", "dessert", "steak", "pizza",
                      "fruit", "milk", "vegetarian option", "vegan option"),
    "amenities": ("wifi", "wi fi", "internet", "connection", "pool", "gym", "spa", "sauna", "towels", "towel",
                  "toiletries", "shampoo", "soap", "conditioner", "hairdryer", "hair dryer", "iron", "parking",
                  "safe", "kettle", "robe", "robes", "bathrobe", "slippers", "channels", "netflix", "laundry",
                  "blanket", "blankets", "pillows", "hangers", "coffee machine", "toilet paper",
                  "charger", "adapter", "jacuzzi", "hot tub", "shuttle", "business centre", "business center",
                  "umbrella", "amenities", "facilities", "tissues", "crib", "cot"),
    "check_in": ("check in", "checkin", "check-in", "checking in", "waited", "waiting", "wait", "queue",
                 "line", "room not ready", "room wasn't ready", "room was not ready", "not ready",
                 "reservation", "booking", "booked", "upgrade", "arrival", "arrived", "registration", "key",
                 "keys", "wrong room", "room type", "given a", "gave me a", "twin instead", "instead of",
                 "lost my booking", "no record", "early check in", "hours to", "took forever"),
    "safety": ("fire", "smoke", "smoke alarm", "fire alarm", "gas", "carbon monoxide", "injured", "injury",
               "hurt", "blood", "bleeding", "unsafe", "not safe", "danger", "dangerous", "security", "stolen",
               "theft", "thief", "robbed", "lock", "locks", "won't lock", "doesn't lock", "broken lock",
               "locked out", "intruder", "stranger", "threatened", "harassed", "harassment", "assault",
               "electric shock", "sparks", "exposed wires", "slipped", "slippery", "fell", "trip hazard",
               "stuck in the lift", "stuck in the elevator", "emergency", "fire exit", "balcony railing",
               "peephole", "chain", "suspicious"),
    "other": (),
}

# --------------------------------------------------------------------------------------------------------
# Survey comment tagging.
# --------------------------------------------------------------------------------------------------------
ASPECT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cleanliness": ("clean", "cleanliness", "spotless", "tidy", "immaculate", "hygiene", "hygienic",
                    "dirty", "filthy", "dust", "dusty", "stain", "stains", "stained", "smelly", "smell",
                    "mould", "mold", "housekeeping", "maid", "cleaning", "unclean", "grubby"),
    "noise": ("noise", "noisy", "loud", "quiet", "peaceful", "silent", "thin walls", "music", "party",
              "construction", "traffic", "slept well", "sleep", "soundproof", "neighbours", "neighbors"),
    "staff": ("staff", "reception", "receptionist", "concierge", "waiter", "waitress", "manager", "team",
              "employee", "employees", "friendly", "helpful", "rude", "polite", "welcoming", "attentive",
              "service", "unhelpful", "unfriendly", "professional", "front desk", "porter", "doorman",
              "bartender", "housekeeper", "personnel"),
    "food_beverage": ("food", "breakfast", "dinner", "lunch", "restaurant", "meal", "meals", "coffee", "tea",
                      "menu", "buffet", "room service", "drink", "drinks", "bar", "cocktail", "cocktails",
                      "wine", "delicious", "tasty", "chef", "cuisine", "brunch", "croissant", "croissants"),
    "amenities": ("wifi", "wi fi", "internet", "pool", "gym", "spa", "sauna", "towels", "toiletries",
                  "shampoo", "parking", "facilities", "amenities", "minibar", "kettle", "robe", "slippers",
                  "tv", "jacuzzi", "lounge", "business centre", "business center", "laundry"),
    "value": ("value", "price", "prices", "expensive", "cheap", "overpriced", "pricey", "worth", "money",
              "cost", "costs", "rate", "rates", "affordable", "bargain", "rip off", "ripoff", "reasonable",
              "value for money"),
    "location": ("location", "located", "central", "centre", "center", "downtown", "walking distance",
                 "close to", "near the", "nearby", "station", "airport", "beach", "view", "views",
                 "neighbourhood", "neighborhood", "area", "transport", "metro", "subway", "tram",
                 "far from", "convenient"),
    "check_in": ("check in", "checkin", "check-in", "check out", "checkout", "check-out", "arrival",
                 "queue", "waited", "waiting", "wait", "upgrade", "upgraded", "reservation", "booking",
                 "registration", "welcome", "welcomed"),
    "maintenance": ("broken", "not working", "didn't work", "doesn't work", "leak", "leaking", "repair",
                    "out of order", "air conditioning", "aircon", "heating", "shower", "hot water", "elevator",
                    "lift", "old fashioned", "outdated", "worn", "run down", "rundown", "tired decor"),
    "billing": ("bill", "billing", "charged", "overcharged", "invoice", "refund", "deposit", "payment",
                "fee", "fees", "hidden charges"),
    "safety": ("safe", "safety", "unsafe", "security", "secure", "dangerous", "stolen", "theft"),
}
# Phrases (checked before single words) and single words with a polarity.
SENTIMENT_POSITIVE: tuple[str, ...] = (
    "good", "great", "excellent", "amazing", "awesome", "fantastic", "wonderful", "lovely", "nice", "perfect",
    "superb", "outstanding", "brilliant", "beautiful", "clean", "spotless", "immaculate", "friendly",
    "helpful", "polite", "welcoming", "attentive", "professional", "comfortable", "comfy", "cosy", "cozy",
    "quiet", "peaceful", "delicious", "tasty", "fresh", "spacious", "convenient", "central", "recommend",
    "recommended", "love", "loved", "enjoy", "enjoyed", "like", "liked", "happy", "pleased", "satisfied",
    "impressed", "best", "fabulous", "exceptional", "stunning", "gorgeous", "pleasant", "relaxing",
    "efficient", "quick", "fast", "smooth", "easy", "worth", "reasonable", "affordable", "bargain", "thank",
    "thanks", "grateful", "kind", "warm welcome", "top notch", "well done", "value for money",
    "slept well", "5 stars", "five stars", "10/10", "spot on", "above and beyond", "will be back",
    "will come back", "come back", "modern", "stylish", "charming", "cute", "fine", "ok", "okay", "decent",
    "solid", "well", "better",
)
SENTIMENT_NEGATIVE: tuple[str, ...] = (
    "bad", "terrible", "awful", "horrible", "poor", "worst", "disgusting", "dirty", "filthy", "rude",
    "unhelpful", "unfriendly", "noisy", "loud", "broken", "slow", "cold", "smelly", "smell", "stained",
    "uncomfortable", "overpriced", "expensive", "pricey", "disappointing", "disappointed", "disappointment",
    "unacceptable", "annoying", "annoyed", "angry", "upset", "unhappy", "hate", "hated", "dislike",
    "complain", "complaint", "problem", "problems", "issue", "issues", "never again", "waste", "rip off",
    "ripoff", "avoid", "mediocre", "average", "bland", "stale", "tasteless", "cramped", "tiny", "small",
    "outdated", "old", "worn", "run down", "rundown", "shabby", "leak", "leaking", "mould", "mold", "dusty",
    "stain", "stains", "bugs", "cockroach", "insects", "waited", "waiting", "queue", "ignored", "unclean",
    "unprofessional", "not working", "didn't work", "doesn't work", "out of order", "lacking", "lack",
    "missing", "overcharged", "charged twice", "hidden charges", "could be better", "could have been better",
    "not worth", "nightmare", "ruined", "sadly", "unfortunately", "dated", "grubby", "thin walls",
    "couldn't sleep", "could not sleep", "kept awake", "far from", "inconvenient", "unsafe", "dangerous",
    "worse", "sucks", "sucked", "meh", "crap", "rubbish", "useless", "pathetic", "appalling", "dreadful",
    "rude staff", "too hot", "too cold", "too loud", "too small", "too expensive", "too noisy",
    "took forever", "took ages", "wait forever", "long wait", "slow service", "never came", "never arrived",
)
SENTIMENT_NEGATIONS: tuple[str, ...] = ("not", "no", "never", "n't", "hardly", "barely", "without", "nothing",
                                        "neither", "nor", "lack", "lacked", "lacking", "wasn't", "isn't",
                                        "weren't", "aren't", "didn't", "don't", "doesn't")

# --------------------------------------------------------------------------------------------------------
# Spelling: real words one typo away from a lexicon word, never "corrected" (see hotel_nlu/spelling.py).
# --------------------------------------------------------------------------------------------------------
# The words the speller may restore: distinctive preference words of five letters or more (four-letter words
# only through a swap of two adjacent letters: "kign" -> "king", "hihg" -> "high").
SPELLING_TARGETS: tuple[str, ...] = (
    "pillow", "pillows", "feather", "feathers", "hypoallergenic", "allergenic", "memory", "cushion",
    "softer", "firmer", "mattress", "double", "single", "queen", "twin", "king", "kingsize", "queensize",
    "floor", "floors", "higher", "lower", "ground", "upper", "high", "quiet", "quieter", "quietest", "sleeper",
    "elevator", "elevators", "lifts", "smoking", "smoker", "smokers", "nonsmoking", "temperature",
    "degrees", "celsius", "fahrenheit", "thermostat", "aircon", "heating", "cooler", "warmer", "colder",
    "vegetarian", "vegan", "veggie", "vegans", "halal", "kosher", "gluten", "lactose", "intolerant",
    "pescatarian", "coeliac", "celiac", "diabetic", "dairy", "allergic", "allergy", "allergies", "peanut",
    "peanuts", "shellfish", "prawns", "seafood", "nuts", "eggs", "pollen", "hayfever", "newspaper",
    "newspapers", "guardian", "financial", "times", "journal", "checkin", "checkout", "check", "early",
    "late", "arrive", "arrival", "leave", "wheelchair", "accessible", "accessibility", "mobility",
    "crutches", "shower", "hearing", "visually", "impaired", "sighted", "rails", "museums",
    "museum", "hiking", "running", "jogging", "swimming", "nightlife", "shopping", "business", "massage",
    "golfer", "golfing", "tasting", "dining", "restaurants", "galleries", "please", "prefer", "preference",
    "always", "would", "like", "need",
)
# Real words one typo away from a target, never corrected (found by running the speller over data/nlu),
# besides every word of the lexicon tables and a target's inflections (see hotel_nlu/spelling.py).
SPELLING_PROTECTED: frozenset[str] = frozenset("""
world wouldn wouldnt quit quite walked cover father weather testing tiles tile rail showed nearly mould
leaves eating showing drive alive arived pilot warmed daily manage visual trails guten singles cooker
lover lower power tower flour flood flower floors sleepers quest queue twins kings highs dinning
running cunning sunning heaing hearing shaver shower allergen peanuts shellfish lover laver later
latest lately leaves leaved leaver eraly loging smoke smoked message messages mesage mesages flood floods flods
""".split())
