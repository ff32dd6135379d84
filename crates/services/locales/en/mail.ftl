# Transactional mail (plain text), rendered by services::identity::mail. Links and codes come
# in as arguments; keep them on their own line.
mail-verify-subject = Confirm your email address
mail-verify-body =
    Welcome to MyQCM.

    Open this link to confirm your address:
    { $link }

    or enter this code: { $code }

    The link and the code are valid for 30 minutes.
mail-signup-existing-subject = Sign-up attempt
mail-signup-existing-body =
    Someone tried to create a MyQCM account with this address, which already has one.
    Sign in: { $sign_in }
    Forgot your password: { $reset }
    If this was not you, ignore this message.
mail-reset-subject = Reset your password
mail-reset-body =
    Open this link to choose a new password (valid 30 minutes, once):
    { $link }

    If you did not ask for this, ignore this message.
mail-new-sign-in-subject = New sign-in
mail-new-sign-in-body =
    Your account was signed in on { $at } (Algerian time) from { $ip }.
    If this was not you, change your password and sign out everywhere.
mail-device-signed-out-subject = Signed out on another device
mail-device-signed-out-body =
    Your plan allows { $limit } device(s). You just signed in on a new device, so your account was signed out on: { $devices }.
    If this was not you, change your password and sign out of every session under Settings.
mail-password-changed-subject = Password changed
mail-password-changed-body = Your account's password was changed and every other session was signed out.
mail-email-changed-subject = Email address changed
mail-email-changed-body = Your MyQCM account's address was changed to { $new_email }. If this was not you, contact support.
mail-deletion-scheduled-subject = Account deletion scheduled
mail-deletion-scheduled-body = Your account will be deleted in { $days } days. Sign in before then to cancel.
mail-account-deleted-subject = Account deleted
mail-account-deleted-body = Your MyQCM account and your personal data were deleted.
mail-sign-in-failures-subject = Failed sign-ins
mail-sign-in-failures-body = Several attempts to sign in to your account failed, the last one from { $ip }. Devices you signed in from before are not slowed down.
    If this was not you, choose a long, unique password and turn on two-step verification.
mail-mfa-disabled-subject = Two-step sign-in turned off
mail-mfa-disabled-body =
    Two-step sign-in was turned off on your MyQCM account: signing in now asks for the password only.
    If this was not you, change your password, sign out your other devices and turn it back on in the settings.
mail-recovery-codes-subject = New recovery codes
mail-recovery-codes-body =
    New recovery codes were generated for your MyQCM account; the old ones no longer work.
    If this was not you, change your password and sign out your other devices in the settings.
