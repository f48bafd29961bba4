from flask.views import MethodView

from backend.api.base import Blueprint
from backend.api.docs import errors
from backend.auth import current_principal, require_roles
from backend.schemas.users import UserCreateSchema, UserSchema
from backend.services import users as users_service

blp = Blueprint("users", __name__, description="Staff and patient accounts")


@blp.route("/users")
class Users(MethodView):
    @require_roles("admin", "coordinator")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @errors(blp, 401, 403, 409)
    def post(self, data):
        """Create a user (admins; coordinators create nurses and patients for their studies)"""
        return users_service.create_user(current_principal(), data)
