"""The citizen's dialogue, for every messenger: neutral inputs in, neutral replies out.

`dialogue.handle` takes what a person sent (`inputs`) and returns what to
answer (`replies`): registration (`onboarding`), the report draft
(`drafting`, `photos`), the citizen's reports (`myreports`), what they do
after the agency acts (`followup`), and their settings (`settings`). `prompts`
keeps what the bot is waiting for someone to type, for the conversation and
the platform adapters alike. Nothing here imports a platform.
"""

from bot.conversation import (
    dialogue,
    drafting,
    followup,
    inputs,
    menus,
    myreports,
    onboarding,
    payloads,
    photos,
    prompts,
    replies,
    scope,
    settings,
)

__all__ = [
    "dialogue",
    "drafting",
    "followup",
    "inputs",
    "menus",
    "myreports",
    "onboarding",
    "payloads",
    "photos",
    "prompts",
    "replies",
    "scope",
    "settings",
]
