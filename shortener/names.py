"""Random customer names ("Big Red Caribou") for leads tracked without a name or email.

Our own word lists: adjective + colour + animal, each word capitalised, as Dub names anonymous
customers. About 350 x 60 x 270 = 5.6 million combinations: names are labels, not identifiers,
so collisions are harmless.
"""
from __future__ import annotations

import secrets

ADJECTIVES = tuple("""
able absent active adorable adventurous agile alert amazing ambitious ample amused ancient
angry anxious apt arctic ardent artful austere autumn awake awesome bashful basic bold bored
bouncy brave breezy brief bright brilliant brisk broad bumpy busy calm candid capable careful
casual cautious charming cheerful chilly chubby civic classic clean clever close cloudy clumsy
coastal cold colossal comfy cosmic cozy crafty crisp crunchy cuddly curious curly cute daring
dashing dazzling decent deep defiant delicate dense desert determined devoted diligent distant
dizzy dreamy drowsy dusty dynamic eager early earnest easy eclectic elastic elegant eloquent
emerald eminent enchanted endless energetic enormous epic equal eternal even exact excited
exotic expert fabulous faint fair faithful famous fancy fantastic fast fearless feisty fierce
fine firm fit fixed flat fleet flexible floral fluffy fluent flying focused fond formal fortunate
frank free fresh friendly frosty frugal funky funny fuzzy gallant generous gentle genuine giant
giddy gifted gigantic glad gleaming glorious golden graceful gracious grand grateful great
groovy grumpy gusty handy happy hardy harmonious hasty healthy hearty heavy helpful heroic
hidden high hilly historic homely honest hopeful huge humble hungry icy ideal idle immense
jolly jovial joyful jumpy just keen kind kindly large late lavish lazy leafy legal lively local
lofty lone long loose loud lovely loyal lucky lunar lush magic majestic mellow merry mighty mild
misty modern modest moody mossy motley nimble noble noisy normal nostalgic novel oak odd optimal
orderly ornate outgoing patient peaceful perky placid plain playful pleasant plucky plush polar
polite posh precise pretty prime proud prudent puffy punctual pure quaint quick quiet quirky
radiant rapid rare ready real regal relaxed reliable remote rich rigid ripe robust rocky rosy
round royal rugged rustic sandy savvy scenic secret serene sharp shiny shy silent silky silly
simple sincere sleek sleepy slim slow smart smooth snappy snowy soft solar solid sonic sparkling
speedy spicy splendid spry square stable stark steady stellar stoic stormy strong sturdy subtle
sunny super swift tall tame tender thrifty tidy tiny tough tranquil tropical true trusty
twinkling unique upbeat urban useful valiant vast velvet vibrant vigilant vivid warm wary wavy
wild windy wise witty wooden worthy young zany zealous zesty
""".split())

COLOURS = tuple("""
amber apricot aqua azure beige black blue bronze brown burgundy chartreuse cobalt copper coral
cream crimson cyan ebony emerald fuchsia gold gray green indigo ivory jade khaki lavender lemon
lilac lime magenta maroon mauve mint navy ochre olive orange peach pink plum purple red rose ruby
rust saffron salmon sapphire scarlet sepia silver tan teal turquoise violet white yellow
""".split())

ANIMALS = tuple("""
aardvark albatross alligator alpaca anaconda anchovy angelfish ant anteater antelope armadillo
baboon badger barracuda bat beagle bear beaver bee beetle bison blackbird bluebird boar bobcat
buffalo bulldog bullfrog bumblebee butterfly buzzard camel canary capybara cardinal caribou carp
cat caterpillar catfish centipede chameleon cheetah chickadee chicken chimpanzee chinchilla
chipmunk clam cobra cockatoo cod condor cormorant cougar cow coyote crab crane crayfish cricket
crocodile crow cuckoo dachshund deer dingo dolphin donkey dove dragonfly duck dugong eagle eel
egret elephant elk emu falcon ferret finch firefly flamingo flounder fox frog gazelle gecko
gerbil gibbon giraffe gnu goat goldfinch goldfish goose gopher gorilla grasshopper grouse gull
guppy hamster hare hawk hedgehog heron herring hippo hornet horse hummingbird hyena ibex ibis
iguana impala jackal jaguar jay jellyfish kangaroo kestrel kingfisher kiwi koala koi krill
ladybug lamb lark lemming lemur leopard lion lizard llama lobster locust lynx macaw magpie mallard
manatee mandrill mantis marlin marmot marten meerkat mink mole mongoose monkey moose mosquito
moth mouse mule muskrat narwhal newt nightingale ocelot octopus okapi opossum orca oriole osprey
ostrich otter owl ox oyster panda panther parakeet parrot partridge peacock pelican penguin
perch pheasant pig pigeon pike platypus polecat pony porcupine porpoise possum prawn puffin puma
python quail rabbit raccoon ram rat raven reindeer rhino robin rooster salamander salmon
sandpiper sardine scorpion seahorse seal shark sheep shrew shrimp skink skunk sloth slug snail
snake sparrow spider squid squirrel starfish starling stingray stoat stork sturgeon swallow swan
swift tapir tarantula termite tern tiger toad tortoise toucan trout tuna turkey turtle viper
vole vulture wallaby walrus warbler wasp weasel whale whippet wildcat wolf wolverine wombat
woodpecker wren yak zebra
""".split())


def random_name() -> str:
    """An adjective, a colour and an animal, each capitalised: "Big Red Caribou"."""
    words = (secrets.choice(ADJECTIVES), secrets.choice(COLOURS), secrets.choice(ANIMALS))
    return " ".join(w.capitalize() for w in words)
