# Transactional mail (plain text), rendered by services::identity::mail. Links and codes come
# in as arguments; keep them on their own line.
mail-verify-subject = تأكيد بريدك الإلكتروني
mail-verify-body =
    مرحبًا بك في MyQCM.

    افتح هذا الرابط لتأكيد بريدك:
    { $link }

    أو أدخل هذا الرمز: { $code }

    الرابط والرمز صالحان لمدة 30 دقيقة.
mail-signup-existing-subject = محاولة تسجيل
mail-signup-existing-body =
    حاول شخص ما إنشاء حساب MyQCM بهذا البريد، وهو مسجل من قبل.
    تسجيل الدخول: { $sign_in }
    نسيت كلمة المرور: { $reset }
    إن لم تكن أنت، تجاهل هذه الرسالة.
mail-reset-subject = إعادة تعيين كلمة المرور
mail-reset-body =
    افتح هذا الرابط لاختيار كلمة مرور جديدة (صالح 30 دقيقة ولمرة واحدة):
    { $link }

    إن لم تطلب ذلك، تجاهل هذه الرسالة.
mail-new-sign-in-subject = تسجيل دخول جديد
mail-new-sign-in-body =
    تم تسجيل الدخول إلى حسابك في { $at } (بتوقيت الجزائر) من { $ip }.
    إن لم تكن أنت، غيّر كلمة المرور وسجّل الخروج من كل الجلسات.
mail-device-signed-out-subject = تسجيل الخروج من جهاز آخر
mail-device-signed-out-body =
    تسمح خطتك بـ { $limit } جهاز(أجهزة). سجّلت الدخول للتو على جهاز جديد، لذلك سُجّل خروج حسابك من: { $devices }.
    إن لم تكن أنت، غيّر كلمة المرور وسجّل الخروج من جميع الجلسات في الإعدادات.
mail-password-changed-subject = تم تغيير كلمة المرور
mail-password-changed-body = تم تغيير كلمة مرور حسابك وإغلاق كل الجلسات الأخرى.
mail-email-changed-subject = تم تغيير البريد الإلكتروني
mail-email-changed-body = تم تغيير بريد حسابك في MyQCM إلى { $new_email }. إن لم تكن أنت، اتصل بالدعم.
mail-deletion-scheduled-subject = تمت جدولة حذف الحساب
mail-deletion-scheduled-body = سيُحذف حسابك بعد { $days } يومًا. سجّل الدخول قبل ذلك للإلغاء.
mail-account-deleted-subject = تم حذف الحساب
mail-account-deleted-body = تم حذف حسابك في MyQCM وبياناتك الشخصية.
mail-sign-in-failures-subject = محاولات دخول فاشلة
mail-sign-in-failures-body = فشلت عدة محاولات لتسجيل الدخول إلى حسابك، آخرها من { $ip }. الأجهزة التي سجلت منها الدخول من قبل لا تتأثر.
    إن لم تكن أنت، اختر كلمة مرور طويلة وفريدة وفعّل التحقق بخطوتين.
mail-mfa-disabled-subject = تم إيقاف التحقق بخطوتين
mail-mfa-disabled-body =
    تم إيقاف التحقق بخطوتين في حسابك على MyQCM: أصبح تسجيل الدخول يطلب كلمة المرور فقط.
    إن لم تكن أنت، غيّر كلمة المرور وسجّل الخروج من الأجهزة الأخرى وأعد تفعيله من الإعدادات.
mail-recovery-codes-subject = رموز استرداد جديدة
mail-recovery-codes-body =
    تم إنشاء رموز استرداد جديدة لحسابك على MyQCM؛ الرموز القديمة لم تعد صالحة.
    إن لم تكن أنت، غيّر كلمة المرور وسجّل الخروج من الأجهزة الأخرى من الإعدادات.
