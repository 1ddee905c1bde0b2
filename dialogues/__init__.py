"""Channel-neutral conversations: the questionnaire, referral consent, global commands.

Imports `knowledge` only; knows nothing of Telegram, SMS, Redis or HTTP.
"""
