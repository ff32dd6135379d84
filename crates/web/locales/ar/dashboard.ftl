dashboard-title = لوحة المتابعة
dashboard-welcome = مرحبًا { $name }
dashboard-unverified = لم يتم تأكيد بريدك بعد: يبدأ التدريب فور تأكيده. افتح رابط الرسالة أو أدخل رمزها.
dashboard-intro = ستعرض لوحتك هنا مراجعات اليوم ونقاط ضعفك.
dashboard-start = ابدأ جلسة
dashboard-profile = ملفي الدراسي
