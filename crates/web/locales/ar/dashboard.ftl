dashboard-title = لوحة المتابعة
dashboard-welcome = مرحبًا { $name }
dashboard-unverified = لم يتم تأكيد بريدك بعد: يبدأ التدريب فور تأكيده. افتح رابط الرسالة أو أدخل رمزها.
dashboard-intro = ستعرض لوحتك هنا مراجعات اليوم ونقاط ضعفك.
dashboard-start = ابدأ جلسة
dashboard-profile = ملفي الدراسي
dashboard-newcomer-title = مرحبًا بك!
dashboard-newcomer = أخبرنا بسنة دراستك وتاريخ امتحانك: سنختار الأسئلة ونتوقع علامتك. يمكنك أيضًا البدء فورًا بحصة تشخيصية.
dashboard-diagnostic = حصة تشخيصية
dashboard-suggested = الحصة المقترحة
dashboard-suggest-review = { $count ->
    [zero] لا سؤال للمراجعة اليوم.
    [one] سؤال واحد للمراجعة اليوم.
    [two] سؤالان للمراجعة اليوم.
    [few] { $count } أسئلة للمراجعة اليوم.
    [many] { $count } سؤالًا للمراجعة اليوم.
   *[other] { $count } سؤال للمراجعة اليوم.
}
dashboard-start-review = ابدأ المراجعة
dashboard-suggest-first = ابدأ بحصة أولى: تحدّد مستواك.
dashboard-suggest-weak = حصة موجّهة إلى أضعف مفاهيمك.
dashboard-exam = الامتحان
dashboard-exam-in = { $count ->
    [zero] اليوم
    [one] بعد يوم واحد
    [two] بعد يومين
    [few] بعد { $count } أيام
    [many] بعد { $count } يومًا
   *[other] بعد { $count } يوم
}
dashboard-all-progress = كل تقدّمي
dashboard-sessions = آخر الحصص
dashboard-no-sessions = لا توجد حصص بعد.
dashboard-resume = متابعة
dashboard-summary = الحصيلة
dashboard-style-tutor = تعليمي
dashboard-style-exam = امتحان
dashboard-style-review = مراجعة
plans-title = الاشتراكات
plans-mine = اشتراكك
plans-until = حتى
plans-offer = اشتراكاتنا
plans-unlimited = غير محدود
plans-days = { $count ->
    [zero] { $count } يوم
    [one] يوم واحد
    [two] يومان
    [few] { $count } أيام
    [many] { $count } يومًا
   *[other] { $count } يوم
}
plans-mcq-day = أسئلة QCS/QCM مصححة في اليوم:
plans-qroc-day = أسئلة QROC مصححة في اليوم:
plans-per-month = في الشهر:
plans-explanations = شروح بعد كل إجابة
plans-redeem-title = تفعيل بطاقة مسبقة الدفع
plans-code-label = رمز البطاقة
plans-redeem = تفعيل
plans-redeemed = تم تفعيل بطاقتك.
plans-sign-in = سجّل الدخول لتفعيل بطاقة.
plans-clinical = الحالات السريرية مشمولة
plans-ai-grading = إجابات QROC القريبة من الإجابة المنتظرة يراجعها مساعد التصحيح
