dashboard-title = Dashboard
dashboard-welcome = Hello { $name }
dashboard-unverified = Your address is not confirmed yet: training starts as soon as it is. Open the link in the email or enter its code.
dashboard-intro = Your dashboard will show today's reviews and your weak points here.
dashboard-start = Start a session
dashboard-profile = My study profile
