def party(request):
    """Who the signed-in user is in the portal: a creator, or a member of an organization."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"party_creator": user.creator_or_none, "party_membership": user.membership_or_none}
