onboarding-title = Your study profile
onboarding-intro = These answers set the size of your sessions and the pace of reviews. You can change them at any time.
onboarding-year = Year of study
onboarding-year-choose = Choose your year
onboarding-year-n = { $year ->
    [1] 1st year
    [2] 2nd year
    [3] 3rd year
   *[other] { $year }th year
}
onboarding-exam-date = Exam date
onboarding-exam-date-hint = Optional. We plan reviews so that you are ready on that day.
onboarding-daily = Time per day, in minutes
onboarding-daily-hint = Between 5 and 600 minutes.
onboarding-submit = Save and continue
settings-title = Settings
settings-profile-title = Profile
settings-email-line = Address: { $email }
settings-profile-save = Save the name
settings-language-label = Language of the interface and emails
settings-language-save = Change language
settings-sessions-title = Devices and sessions
settings-session-device = Device
settings-session-seen = Last active
settings-session-actions = Actions
settings-session-current = this device
settings-session-revoke = Sign out
settings-password-title = Password
settings-current-password = Current password
settings-password-save = Change the password
settings-password-changed = Password changed. Your other sessions were signed out.
settings-mfa-title = Two-step verification
settings-mfa-off = Add a code from an authenticator app to your password.
settings-mfa-start = Turn on two-step verification
settings-mfa-add = Add this key to your authenticator app, then enter the code it shows.
settings-mfa-open-app = Open in the app
settings-mfa-confirm = Confirm the code
settings-mfa-enabled = Two-step verification is on.
settings-mfa-recovery = Keep these recovery codes somewhere safe: each replaces the app's code once. They will not be shown again.
settings-mfa-on = Two-step verification is on for this account.
settings-data-title = Your data
settings-export-text = Download everything MyQCM keeps about you (a JSON file).
settings-export = Download my data
settings-delete-text = Deletion erases your account and personal data after a grace period.
settings-delete = Delete my account
delete-title = Delete your account
delete-explain = Your account will be deleted after 14 days; every session ends now. Signing in before then cancels the deletion.
delete-confirm = Yes, delete my account
delete-cancel = No, back to the settings
delete-scheduled = Deletion scheduled: your personal data will be erased after { $date }.
