"""WTForms forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, ValidationError

from caoskol import schema

from .names import NAME_MAX, clean_name

ROLE_CHOICES = [SelectChoice("estudiante", "Estudiante"), SelectChoice("profesor", "Profesor"),
                SelectChoice("administrador", "Administrador")]
GRADE_CHOICES = [SelectChoice(str(g), f"{g}°") for g in schema.GRADES]
PROGRAM_CHOICES = [SelectChoice(str(code), name) for code, name in sorted(schema.PROGRAMS.items())]
WEAK_PASSWORDS = {"1234", "12345", "123456", "12345678", "password", "contraseña", "clave", "caoskol"}
MIN_PASSWORD = 8


class Form(FlaskForm):
    """Every portal form. WTForms' own messages ("This field is required.") in Spanish, from
    the translation WTForms ships: Flask-WTF's i18n needs Flask-Babel, which the portal does
    not use, and without it leaves them in English."""

    class Meta:
        locales = ("es",)

        def get_translations(self, form):
            return DefaultMeta.get_translations(self, form)


class LoginForm(Form):
    # Text, not an integer field: whatever is typed is parsed by the login code, and anything
    # that is not an ID fails exactly like a wrong password.
    id = StringField("ID", validators=[DataRequired(), Length(max=20)])
    clave = PasswordField("Clave", validators=[DataRequired(), Length(max=200)])


def check_new_password(new: str, user_id: int | None = None, old: str | None = None) -> str | None:
    """The reason a new password is refused, or None."""
    if len(new) < MIN_PASSWORD:
        return f"La clave debe tener al menos {MIN_PASSWORD} caracteres."
    if len(new) > 200:
        return "La clave es demasiado larga."
    # Fewer than 4 different characters: eight spaces, "aaaaaaaa", "72727272" (an ID repeated).
    if new.lower() in WEAK_PASSWORDS or (user_id is not None and new == str(user_id)) or len(set(new)) < 4:
        return "Esa clave es demasiado fácil de adivinar."
    if old is not None and new == old:
        return "La clave nueva debe ser distinta de la actual."
    return None


class ChangePasswordForm(Form):
    actual = PasswordField("Clave actual", validators=[DataRequired()])
    nueva = PasswordField("Clave nueva", validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    confirmacion = PasswordField(
        "Repita la clave nueva", validators=[DataRequired(), EqualTo("nueva", message="Las claves no coinciden.")]
    )


class CreateUserForm(Form):
    id = IntegerField("ID (vacío: el siguiente libre)", validators=[Optional(), NumberRange(min=1, max=schema.MAX_ID)])
    nombre = StringField("Nombre completo", validators=[DataRequired()], render_kw={"maxlength": NAME_MAX})
    rol = SelectField("Rol", choices=ROLE_CHOICES, validators=[DataRequired()])
    grado = SelectField(
        "Grado (estudiantes)",
        choices=[SelectChoice("", "—")] + GRADE_CHOICES,
        validate_choice=False,  # checked below: empty is fine for staff
    )  # no Optional(): it would stop the chain before validate_grado

    def validate_id(self, field):
        # IntegerField takes whatever int() takes ('٩٩', '９９', '9_904'); an ID is what the
        # login and the API accept: ASCII digits only.
        raw = (field.raw_data or [""])[0].strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise ValidationError("ID: solo dígitos 0-9.")

    def validate_nombre(self, field):
        field.data, problem = clean_name(field.data, "Nombre")
        if problem:
            raise ValidationError(problem)

    # Write-only: the choice list is shown, a student's program never is (the view clears
    # the field before showing the form again).
    programa = SelectField(
        "Programa de estudio (estudiantes; confidencial, no se vuelve a mostrar)",
        choices=[SelectChoice("", "—")] + PROGRAM_CHOICES,
        validate_choice=False,  # checked below: empty is fine for staff
    )

    def validate_grado(self, field):
        if field.data and field.data not in {str(g) for g in schema.GRADES}:
            raise ValidationError("Grado no válido.")
        if self.rol.data == "estudiante" and not field.data:
            raise ValidationError("Un estudiante necesita un grado.")

    def validate_programa(self, field):
        if field.data and field.data not in {str(code) for code in schema.PROGRAMS}:
            raise ValidationError("Programa no válido.")
        if self.rol.data == "estudiante" and not field.data:
            raise ValidationError("Un estudiante necesita un programa de estudio.")
        if self.rol.data != "estudiante" and field.data:
            raise ValidationError("Solo un estudiante tiene programa de estudio.")


class ConfirmForm(Form):
    """A button that changes state (reset, disable, enable): only the CSRF token."""


class DeleteUserForm(Form):
    confirmar = StringField("Escriba el ID para confirmar", validators=[InputRequired()])
    objetivo = HiddenField()
