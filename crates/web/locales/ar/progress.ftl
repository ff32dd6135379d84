progress-title = تقدّمي
progress-percent = { $value }٪
progress-between = { $low }–{ $high }٪
progress-range = المجال { $range }
progress-kc-band = { $value }٪ ± { $pm }، { $count ->
    [zero] بلا إجابة
    [one] إجابة واحدة
    [two] إجابتان
    [few] { $count } إجابات
    [many] { $count } إجابةً
   *[other] { $count } إجابة
}
progress-empty = { $count ->
    [zero] أرقامك أصبحت ذات معنى.
    [one] إجابة واحدة أخرى وتصبح أرقامك ذات معنى.
    [two] إجابتان أخريان وتصبح أرقامك ذات معنى.
    [few] { $count } إجابات أخرى وتصبح أرقامك ذات معنى.
    [many] { $count } إجابةً أخرى وتصبح أرقامك ذات معنى.
   *[other] { $count } إجابة أخرى وتصبح أرقامك ذات معنى.
}
progress-practise = ابدأ حصة
progress-practise-weak = تدرّب على هذه المفاهيم
progress-stats-title = باختصار
progress-answers = الإجابات المقيّمة
progress-correct = صحيحة
progress-streak = السلسلة
progress-days = { $count ->
    [zero] { $count } يوم
    [one] يوم واحد
    [two] يومان
    [few] { $count } أيام
    [many] { $count } يومًا
   *[other] { $count } يوم
}
progress-longest = الأفضل: { $count }
progress-xp = الخبرة
progress-level = المستوى { $count }
progress-rank = الترتيب
progress-top = ضمن أفضل { $count }٪
progress-due-now = مراجعات مستحقة
progress-score-title = العلامة المتوقعة في الامتحان
progress-score-hint = تقدير مبني على إجاباتك وعلى ترجيح الامتحان، مع مجال ثقة 95٪.
progress-score-profile = حدّد سنة دراستك للحصول على علامة متوقعة.
progress-profile-link = إكمال ملفي
progress-subjects-title = العلامة المتوقعة لكل وحدة
progress-subjects-desc = الأعمدة: العلامة المتوقعة لكل وحدة؛ الخطوط: مجال 95٪.
progress-weakest-title = أضعف المفاهيم
progress-weakest-desc = الأعمدة: التمكّن المقدّر لكل مفهوم؛ الخطوط: هامش عدم اليقين.
progress-weakest-none = لم تتدرّب على أي مفهوم بعد.
progress-trend-title = نسبة النجاح خلال 30 يومًا
progress-trend-desc = نسبة الإجابات الصحيحة يوميًا؛ ينقطع الخط في الأيام بلا إجابات.
progress-due-title = المراجعات في الأيام السبعة القادمة
progress-due-desc = عدد الأسئلة للمراجعة كل يوم؛ يشمل اليوم المتأخرات.
progress-show-table = العرض كجدول
progress-col-subject = الوحدة
progress-col-kc = المفهوم
progress-col-day = اليوم
progress-col-value = القيمة
progress-col-due = للمراجعة
