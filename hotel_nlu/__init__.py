"""Hotel language component: spaCy rules, a trained complaint classifier and survey tagging.

Only `hotel_nlu.rasa_component` imports rasa; everything else needs spaCy and the standard library alone.
"""
